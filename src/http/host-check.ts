// DNS-rebinding protection for /mcp: Host and Origin, when present, must name this listener
// (any loopback name on any port for a loopback listener) or an entry of --allowed-origins.

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export interface ListenerIdentity {
  host: string;
  port: number;
  allowedOrigins: string[];
}

function isLoopbackBind(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || host.startsWith('127.');
}

function hostPart(hostHeader: string): { name: string; port: string } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim().toLowerCase());
  return { name: m?.[1] ?? '', port: m?.[2] ?? '' };
}

function allowedHost(hostHeader: string, listener: ListenerIdentity): boolean {
  const { name, port } = hostPart(hostHeader);
  if (isLoopbackBind(listener.host) && LOOPBACK_NAMES.has(name)) return true;
  if (name === listener.host.toLowerCase() && (port === '' || port === String(listener.port))) return true;
  // An allowed origin also admits its own host (host:port, the scheme's default port implied).
  return listener.allowedOrigins.some((o) => {
    const u = new URL(o);
    const defaultPort = u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '';
    return u.hostname.toLowerCase() === name && (u.port || defaultPort) === (port || defaultPort);
  });
}

/** An origin in canonical form (scheme://host[:port], lowercase, no path), or null if unparseable. */
function canonicalOrigin(value: string): string | null {
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? null : origin.toLowerCase();
  } catch {
    return null;
  }
}

/** Returns a reason to refuse, or null when Host and Origin are acceptable. */
export function checkHostAndOrigin(
  headers: { host?: string | undefined; origin?: string | undefined },
  listener: ListenerIdentity,
): string | null {
  if (headers.host !== undefined && !allowedHost(headers.host, listener)) {
    return `Host ${headers.host} does not name this listener`;
  }
  if (headers.origin !== undefined && headers.origin !== 'null') {
    const canonical = canonicalOrigin(headers.origin);
    if (canonical !== null && listener.allowedOrigins.some((o) => canonicalOrigin(o) === canonical)) return null;
    let origin: URL;
    try {
      origin = new URL(headers.origin);
    } catch {
      return `Origin ${headers.origin} is not a URL`;
    }
    if (!allowedHost(origin.host, { ...listener, allowedOrigins: [] })) {
      return `Origin ${headers.origin} is not allowed; add it with --allowed-origins`;
    }
  } else if (headers.origin === 'null') {
    return 'Origin null is not allowed';
  }
  return null;
}
