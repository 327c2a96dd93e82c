/** `serve --graphite-listen host:port --graphite-tenants cidr=tenant,…`, checked. */
import { isLoopback, parseGraphiteTenants, type GraphiteSourceRule } from '../../metrics/index.js';
import { CliError, EXIT } from '../errors.js';

export function graphiteListenFlags(listen: string | undefined, tenants: string | undefined): { graphiteHost: string; graphitePort: number; graphiteTenants?: GraphiteSourceRule[] } | undefined {
  let rules: GraphiteSourceRule[] | undefined;
  if (tenants !== undefined) {
    try {
      rules = parseGraphiteTenants(tenants);
    } catch (e) {
      throw new CliError(EXIT.INVALID, 'USAGE', `--graphite-tenants: ${(e as Error).message}`);
    }
  }
  if (listen === undefined) {
    if (rules !== undefined) throw new CliError(EXIT.INVALID, 'USAGE', '--graphite-tenants needs --graphite-listen <host:port>');
    return undefined;
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new CliError(EXIT.INVALID, 'USAGE', `--graphite-listen: expected <host>:<port> (e.g. 0.0.0.0:2003 or [::]:2003), found ${JSON.stringify(listen)}`);
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535) throw new CliError(EXIT.INVALID, 'USAGE', `--graphite-listen: port ${port} is above 65535`);
  if (!isLoopback(host) && (rules === undefined || rules.length === 0)) {
    throw new CliError(EXIT.INVALID, 'USAGE', `--graphite-listen ${listen} is reachable from other hosts and Graphite has no tokens: say which networks write into which tenant with --graphite-tenants (e.g. 10.0.0.0/8=acme; 0.0.0.0/0=default admits everyone into default)`);
  }
  return { graphiteHost: host, graphitePort: port, ...(rules ? { graphiteTenants: rules } : {}) };
}
