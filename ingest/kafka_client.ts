/**
 * How a kafkajs client reaches a remote cluster: TLS (with a private CA) and
 * SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), which managed Kafka services
 * require (DESIGN.md section 18). Kept apart from ingest/kafka_settings.ts, which
 * builds its clients with {@linkcode clientSecurity} and
 * {@linkcode routedSocketFactory}, so that connection security is one
 * concern in one file.
 *
 * A wrong password or an untrusted certificate does not go away by retrying:
 * {@linkcode setupFailure} recognises both and names the setting to fix, so
 * callers stop with one line instead of retrying forever. No message built
 * here contains the password.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import type { KafkaSasl } from "../config.ts";
import type { BrokerAddress } from "./kafka_settings.ts";

/** Connection security of a Kafka client, from KAFKA_SSL* and KAFKA_SASL_*. */
export interface KafkaSecurity {
  /** TLS to every broker */
  ssl: boolean;
  /** PEM text of the CA(s) to trust instead of the system's (read from KAFKA_SSL_CA_FILE) */
  ca?: string;
  /** where `ca` came from, for error messages */
  caFile?: string;
  /** SASL credentials */
  sasl?: KafkaSasl;
}

/** Kafka cannot be used as configured: the message names the setting to change. */
export class KafkaSetupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KafkaSetupError";
  }
}

/**
 * Builds a {@linkcode KafkaSecurity} from the parsed configuration, reading
 * the CA file. Throws {@linkcode KafkaSetupError} naming KAFKA_SSL_CA_FILE
 * when the file cannot be read or holds no PEM certificate.
 *
 * @example
 * ```ts ignore
 * const security = loadKafkaSecurity(config); // { ssl: true, ca: "-----BEGIN CERTIFICATE-----…", sasl: {…} }
 * ```
 */
export function loadKafkaSecurity(
  config: { kafkaSsl: boolean; kafkaSslCaFile: string | null; kafkaSasl: KafkaSasl | null },
): KafkaSecurity {
  const out: KafkaSecurity = { ssl: config.kafkaSsl };
  if (config.kafkaSslCaFile) {
    let pem: string;
    try {
      pem = Deno.readTextFileSync(config.kafkaSslCaFile);
    } catch (e) {
      throw new KafkaSetupError(
        `KAFKA_SSL_CA_FILE: cannot read ${config.kafkaSslCaFile} (${
          e instanceof Error ? e.message : e
        })`,
      );
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new KafkaSetupError(
        `KAFKA_SSL_CA_FILE: ${config.kafkaSslCaFile} holds no PEM certificate ` +
          `("-----BEGIN CERTIFICATE-----")`,
      );
    }
    out.ca = pem;
    out.caFile = config.kafkaSslCaFile;
  }
  if (config.kafkaSasl) out.sasl = config.kafkaSasl;
  return out;
}

/** kafkajs' `sasl` option: one member per mechanism (its typings need the union). */
type SaslOption = {
  [M in KafkaSasl["mechanism"]]: { mechanism: M; username: string; password: string };
}[KafkaSasl["mechanism"]];

/** The TLS options of a connection: the private CA when given, else the system's. */
function tlsOptions(security: KafkaSecurity): tls.ConnectionOptions {
  return security.ca ? { ca: [security.ca] } : {};
}

/**
 * The `ssl` and `sasl` options of kafkajs' `Kafka` constructor for
 * `security` (nothing for a plaintext cluster).
 *
 * @example
 * ```ts
 * import { clientSecurity } from "./kafka_client.ts";
 * const opts = clientSecurity({ ssl: true, sasl: { mechanism: "plain", username: "u", password: "p" } });
 * console.log(opts.ssl, opts.sasl?.mechanism); // {} plain
 * ```
 */
export function clientSecurity(security: KafkaSecurity | undefined): {
  ssl?: tls.ConnectionOptions;
  sasl?: SaslOption;
} {
  if (!security) return {};
  return {
    ...(security.ssl ? { ssl: tlsOptions(security) } : {}),
    ...(security.sasl
      ? {
        sasl: {
          mechanism: security.sasl.mechanism,
          username: security.sasl.username,
          password: security.sasl.password,
        } as SaslOption,
      }
      : {}),
  };
}

/**
 * A kafkajs `socketFactory` that dials `route(advertised)` instead of the
 * advertised address (port forwarding, NAT, a test proxy), over TLS when
 * kafkajs asks for it; the certificate is still checked against the
 * advertised host name.
 */
export function routedSocketFactory(route: (advertised: BrokerAddress) => BrokerAddress) {
  return (
    { host, port, ssl, onConnect }: {
      host: string;
      port: number;
      ssl: tls.ConnectionOptions;
      onConnect: () => void;
    },
  ): net.Socket => {
    const to = route({ host, port });
    const socket = ssl
      ? tls.connect({
        ...ssl,
        host: to.host,
        port: to.port,
        ...(net.isIP(host) ? {} : { servername: host }),
        ...(ssl.checkServerIdentity ? {} : {
          checkServerIdentity: (_: string, cert: tls.PeerCertificate) =>
            tls.checkServerIdentity(host, cert),
        }),
      }, onConnect)
      : net.connect({ host: to.host, port: to.port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}

function causes(e: unknown): Error[] {
  const out: Error[] = [];
  let at: unknown = e;
  for (let i = 0; i < 10 && at instanceof Error; i++) {
    out.push(at);
    at = at.cause ?? (at as { originalError?: unknown }).originalError;
  }
  return out;
}

/** Words of TLS certificate failures in Node's and Deno's (rustls') errors. */
const CERT_FAILURE =
  /self[- ]signed certificate|unable to (get|verify)|certificate (has expired|is not yet valid|verify failed)|UnknownIssuer|invalid peer certificate|NotValidForName|CERT_|Hostname\/IP does not match|ERR_TLS_CERT/i;

/**
 * Whether `e` (or a cause it wraps) is a failure that retrying cannot fix,
 * and if so one line saying which setting to change: SASL authentication
 * refused (KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD / KAFKA_SASL_MECHANISM),
 * or the broker's certificate not trusted (KAFKA_SSL_CA_FILE). Null for
 * anything else (a broker that is down is transient). Never contains the password.
 *
 * @example
 * ```ts ignore
 * const why = setupFailure(err, security);
 * if (why) throw new KafkaSetupError(why);
 * ```
 */
export function setupFailure(e: unknown, security?: KafkaSecurity): string | null {
  const chain = causes(e);
  const auth = chain.find((c) =>
    c.name === "KafkaJSSASLAuthenticationError" ||
    (c as { type?: string }).type === "SASL_AUTHENTICATION_FAILED" ||
    (c as { type?: string }).type === "UNSUPPORTED_SASL_MECHANISM" ||
    (c as { type?: string }).type === "ILLEGAL_SASL_STATE"
  );
  if (auth) {
    const mech = security?.sasl?.mechanism ?? "(none)";
    const unsupported = (auth as { type?: string }).type === "UNSUPPORTED_SASL_MECHANISM" ||
      /unsupported|not support/i.test(auth.message);
    const setting = unsupported
      ? "KAFKA_SASL_MECHANISM"
      : "KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD";
    return `Kafka refused SASL authentication (mechanism ${mech}, user ${
      security?.sasl?.username ?? "(none)"
    }): check ${setting} (${redact(oneLine(auth.message), security)})`;
  }
  const cert = chain.find((c) =>
    CERT_FAILURE.test(c.message) || CERT_FAILURE.test(String((c as { code?: unknown }).code ?? ""))
  );
  if (cert) {
    const where = security?.caFile
      ? `KAFKA_SSL_CA_FILE (${security.caFile}) does not sign the broker's certificate`
      : "set KAFKA_SSL_CA_FILE to the CA that signs the broker's certificate";
    return `Kafka's TLS certificate is not trusted: ${where} (${
      redact(oneLine(cert.message), security)
    })`;
  }
  return null;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 300);
}

function redact(s: string, security?: KafkaSecurity): string {
  const pw = security?.sasl?.password;
  return pw ? s.split(pw).join("***") : s;
}
