import assert from "node:assert/strict";
import {
  clientSecurity,
  KafkaSetupError,
  loadKafkaSecurity,
  setupFailure,
} from "./kafka_client.ts";

const sasl = { mechanism: "scram-sha-512" as const, username: "svc", password: "pa55-word" };

Deno.test("kafka client: plaintext adds nothing; TLS trusts the CA file; SASL passes the credentials", () => {
  assert.deepEqual(clientSecurity(undefined), {});
  assert.deepEqual(clientSecurity({ ssl: false }), {});
  assert.deepEqual(clientSecurity({ ssl: true }), { ssl: {} });
  const opts = clientSecurity({ ssl: true, ca: "PEM", sasl });
  assert.deepEqual(opts, { ssl: { ca: ["PEM"] }, sasl });
});

Deno.test("kafka client: an unreadable or non-PEM CA file is a setup error naming KAFKA_SSL_CA_FILE", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = { kafkaSsl: true, kafkaSasl: null };
    assert.throws(
      () => loadKafkaSecurity({ ...base, kafkaSslCaFile: `${dir}/missing.pem` }),
      (e) => e instanceof KafkaSetupError && /^KAFKA_SSL_CA_FILE: cannot read /.test(e.message),
    );
    await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate");
    assert.throws(
      () => loadKafkaSecurity({ ...base, kafkaSslCaFile: `${dir}/junk.pem` }),
      /KAFKA_SSL_CA_FILE: .*junk\.pem holds no PEM certificate/,
    );
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await Deno.writeTextFile(`${dir}/ca.pem`, pem);
    const s = loadKafkaSecurity({ ...base, kafkaSslCaFile: `${dir}/ca.pem`, kafkaSasl: sasl });
    assert.equal(s.ca, pem);
    assert.deepEqual(s.sasl, sasl);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kafka client: setupFailure names the setting for refused credentials and untrusted certificates only", () => {
  // kafkajs' error shapes: a named error, possibly wrapped by the retrier.
  const auth = Object.assign(
    new Error("SASL SCRAM SHA512 authentication failed: invalid credentials (pa55-word)"),
    { name: "KafkaJSSASLAuthenticationError" },
  );
  const wrapped = Object.assign(new Error("retries exceeded", { cause: auth }), {
    name: "KafkaJSNumberOfRetriesExceeded",
  });
  const why = setupFailure(wrapped, { ssl: true, sasl });
  assert.ok(why);
  assert.match(
    why,
    /^Kafka refused SASL authentication \(mechanism scram-sha-512, user svc\): check KAFKA_SASL_USERNAME \/ KAFKA_SASL_PASSWORD/,
  );
  assert.ok(!why.includes("pa55-word"), "the password is redacted even if a broker echoes it");
  const mech = Object.assign(
    new Error("The broker does not support the requested SASL mechanism"),
    {
      type: "UNSUPPORTED_SASL_MECHANISM",
    },
  );
  assert.match(setupFailure(mech, { ssl: true, sasl })!, /check KAFKA_SASL_MECHANISM/);
  const cert = new Error("Connection error: self-signed certificate in certificate chain");
  assert.match(
    setupFailure(cert, { ssl: true, ca: "x", caFile: "/etc/ca.pem" })!,
    /KAFKA_SSL_CA_FILE \(\/etc\/ca\.pem\) does not sign/,
  );
  assert.match(setupFailure(cert, { ssl: true })!, /set KAFKA_SSL_CA_FILE/);
  // A broker that is down is transient: no setup failure, the caller retries.
  assert.equal(
    setupFailure(new Error("Connection error: connect ECONNREFUSED 127.0.0.1:9092")),
    null,
  );
  assert.equal(setupFailure("not even an error"), null);
});
