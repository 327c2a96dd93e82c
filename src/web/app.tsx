/** The shell: sign-in, navigation, the live event stream, and the page the hash names. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { whenUnauthorized } from './api';
import { startEventBus, type EventBus } from './events';
import { href, useRoute } from './router';
import { currentUser, logout, type Me } from './session';
import { LoginPage } from './pages/login';
import { DeploymentsPage } from './pages/deployments';
import { DeploymentPage } from './pages/deployment';
import { InstancePage } from './pages/instance';
import { ApplyPage } from './pages/apply';
import { EventsPage } from './pages/events';
import { MetricsPage } from './pages/metrics';
import { WorkflowsPage, WorkflowPage } from './pages/workflows';
import { AlertsPage } from './pages/alerts';
import { CloudsPage, CloudPage } from './pages/clouds';
import { RecoveryPage } from './pages/recovery';
import { CatalogPage } from './pages/catalog';
import { BackupsPage } from './pages/backups';

export interface Session {
  me: Me;
  bus: EventBus;
}

const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}

const NAV: [string, string][] = [
  ['deployments', 'Deployments'], ['events', 'Events'], ['metrics', 'Metrics'], ['workflows', 'Workflows'],
  ['catalog', 'Catalog'], ['backups', 'Backups'], ['alerts', 'Alerts'], ['clouds', 'Clouds'], ['recovery', 'Recovery'],
];

function Page() {
  const { parts } = useRoute();
  const [first = 'deployments', second, third, fourth] = parts;
  switch (first) {
    case 'deployments':
      if (second && third === 'instances' && fourth) return <InstancePage deployment={second} instance={fourth} />;
      return second ? <DeploymentPage name={second} /> : <DeploymentsPage />;
    case 'apply': return <ApplyPage />;
    case 'events': return <EventsPage />;
    case 'metrics': return <MetricsPage />;
    case 'workflows': return second ? <WorkflowPage name={second} /> : <WorkflowsPage />;
    case 'alerts': return <AlertsPage />;
    case 'clouds': return second ? <CloudPage name={second} /> : <CloudsPage />;
    case 'recovery': return <RecoveryPage />;
    case 'catalog': return <CatalogPage name={second} />;
    case 'backups': return <BackupsPage />;
    default: return <p>No page {first}. <a href={href('deployments')}>Deployments</a></p>;
  }
}

function Shell({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const { parts } = useRoute();
  const current = parts[0] ?? 'deployments';
  const [live, setLive] = useState(session.bus.connected());
  useEffect(() => session.bus.onStatus(setLive), [session.bus]);
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <a class="brand" href={href('deployments')}>Nubis</a>
        <nav aria-label="main">
          {NAV.map(([id, label]) => (
            <a href={href(id)} aria-current={current === id ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
        <span class={`live ${live ? 'on' : 'off'}`} title={live ? 'live events connected' : 'live events reconnecting'} data-live={live ? 'on' : 'off'}>
          {live ? '● live' : '○ offline'}
        </span>
        <span class="who" data-role={session.me.role} data-via={session.me.via}>{session.me.user} @ {session.me.tenant} · {session.me.role}</span>
        <button type="button" class="link" onClick={onLogout}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page />
      </main>
    </SessionContext.Provider>
  );
}

export function App() {
  const [session, setSession] = useState<Session | undefined | null>(undefined);
  const start = (me: Me): void => setSession({ me, bus: startEventBus() });
  const end = (): void => {
    setSession((s) => {
      s?.bus.stop();
      return null;
    });
  };
  useEffect(() => {
    whenUnauthorized(end);
    currentUser().then((me) => (me ? start(me) : setSession(null)), () => setSession(null));
  }, []);
  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null) return <LoginPage onSignedIn={start} />;
  return <Shell session={session} onLogout={() => void logout(session.me).then(end)} />;
}
