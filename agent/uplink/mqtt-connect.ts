/**
 * Opens an MQTT.js client over TCP or TLS without loading MQTT.js' full entry point.
 *
 * `import mqtt from "mqtt"` loads every transport MQTT.js has (WebSocket with `ws`, SOCKS with `socks` and
 * `ip-address`, the WeChat and Alipay builders) and its URL handling: 6-9 MB of RSS on a gateway whose memory
 * target is 80 MB, for transports the agent never uses (its URL schema allows mqtt, mqtts, tcp, tls, ssl only).
 * MqttClient itself takes a stream builder, called for each connection; this one opens the socket the way
 * MQTT.js' own tcp/tls builders do (default ports 1883/8883, SNI with the host name unless it is an IP address,
 * rejectUnauthorized unless explicitly false). A failed TLS handshake errors and closes the socket, which the client
 * reports as `error` then `close`, as with MQTT.js' builders.
 */
import { createConnection, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createRequire } from "node:module";
import type { IClientOptions, MqttClient } from "mqtt";
import type { ConnectMqtt } from "./mqtt-port.ts";

// mqtt/lib/client is CommonJS with an `exports.default` class. Node's ESM loader and vitest disagree on what a
// default import of such a module is; require() means the same everywhere.
const { default: Client } = createRequire(import.meta.url)("mqtt/lib/client") as { default: typeof MqttClient };

const SECURE = new Set(["mqtts:", "tls:", "ssl:"]);

export const connectMqtt: ConnectMqtt = (url: string, options: IClientOptions): MqttClient => {
  const parsed = new URL(url);
  const secure = SECURE.has(parsed.protocol);
  // URL keeps the brackets of an IPv6 literal; sockets want the bare address.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost";
  const port = parsed.port ? Number(parsed.port) : secure ? 8883 : 1883;
  const build = () =>
    secure
      ? tlsConnect({
          host,
          port,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ...(options.ca ? { ca: options.ca } : {}),
          rejectUnauthorized: options.rejectUnauthorized !== false,
        })
      : createConnection({ host, port });
  return new Client(build, { ...options, protocol: secure ? "mqtts" : "mqtt", host, port });
};
