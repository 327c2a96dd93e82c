/** The tenant's registered clouds, and per cloud its locations, hardware offers and images. */
import { call } from '../api';
import { href } from '../router';
import { Empty, Failure, Time, useLoad } from '../ui';

export function CloudsPage() {
  const clouds = useLoad((signal) => call('listClouds', { signal }), []);
  return (
    <section>
      <h1>Clouds</h1>
      <p class="muted">Registered clouds (nubis clouds add). Clouds named only inside a spec, such as local, are not listed here.</p>
      <Failure error={clouds.error} />
      {clouds.data && clouds.data.clouds.length === 0 && <Empty>No registered clouds.</Empty>}
      {clouds.data && clouds.data.clouds.length > 0 && (
        <table class="list" aria-label="clouds">
          <thead><tr><th>Cloud</th><th>Platform</th><th>Credential</th><th>Locations</th><th>Offers</th><th>Images</th><th>Discovered</th></tr></thead>
          <tbody>{clouds.data.clouds.map((c) => (
            <tr data-cloud={c.name}>
              <td><a href={href('clouds', c.name)}>{c.name}</a></td><td>{c.platform}</td><td>{c.credential ?? ''}</td>
              <td>{c.counts.locations}</td><td>{c.counts.offers}</td><td>{c.counts.images}</td>
              <td><Time iso={c.lastDiscoveredAt} />{c.lastDiscoveryError ? <span class="error"> {c.lastDiscoveryError}</span> : null}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

export function CloudPage({ name }: { name: string }) {
  const cloud = useLoad((signal) => call('getCloud', { params: { name }, signal }), [name]);
  const locations = useLoad((signal) => call('listLocations', { params: { name }, signal }), [name]);
  const offers = useLoad((signal) => call('listOffers', { params: { name }, signal }), [name]);
  const images = useLoad((signal) => call('listImages', { params: { name }, signal }), [name]);
  return (
    <section>
      <p class="crumbs"><a href={href('clouds')}>Clouds</a> / {name}</p>
      <h1>{name}</h1>
      <Failure error={cloud.error} />
      {cloud.data && <p class="muted">{cloud.data.platform}{cloud.data.credential ? ` · credential ${cloud.data.credential}` : ''} · discovery {cloud.data.discovery ? 'on' : 'off'}</p>}
      <h2>Locations</h2>
      <Failure error={locations.error} />
      {locations.data && (
        <table class="list" aria-label="locations">
          <thead><tr><th>Id</th><th>Region</th><th>Zone</th><th>Geography</th><th>Source</th></tr></thead>
          <tbody>{locations.data.locations.map((l) => <tr><td>{l.id}</td><td>{l.region ?? ''}</td><td>{l.zone ?? ''}</td><td>{l.geography ?? ''}</td><td>{l.source}</td></tr>)}</tbody>
        </table>
      )}
      <h2>Hardware offers</h2>
      <Failure error={offers.error} />
      {offers.data && (
        <table class="list" aria-label="offers">
          <thead><tr><th>Id</th><th>Cores</th><th>Memory (MiB)</th><th>Disk (GiB)</th><th>Price / h</th><th>Source</th></tr></thead>
          <tbody>{offers.data.offers.map((o) => <tr><td>{o.id}</td><td>{o.cores}</td><td>{o.memoryMiB}</td><td>{o.diskGiB ?? ''}</td><td>{o.pricePerHour ?? ''}</td><td>{o.source}</td></tr>)}</tbody>
        </table>
      )}
      <h2>Images</h2>
      <Failure error={images.error} />
      {images.data && (
        <table class="list" aria-label="images">
          <thead><tr><th>Id</th><th>Name</th><th>OS</th><th>Version</th><th>Source</th></tr></thead>
          <tbody>{images.data.images.map((i) => <tr><td>{i.id}</td><td>{i.name}</td><td>{i.os ?? ''}</td><td>{i.osVersion ?? ''}</td><td>{i.source}</td></tr>)}</tbody>
        </table>
      )}
    </section>
  );
}
