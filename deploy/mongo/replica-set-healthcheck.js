// MongoDB health check for compose (mongosh --quiet --file ...), also the replica-set init.
// mongod runs with --replSet rs0 so that multi-document transactions work; a replica set must be
// initiated once. This script is idempotent: it initiates rs0 when it is not yet initiated, and
// reports healthy (exit 0) only once this node is a writable primary.
// The member host is the compose service name, which is what the API resolves.
const host = process.env.MONGO_RS_HOST || "mongo:27017";
try {
  rs.status();
} catch (e) {
  if (e.codeName === "NotYetInitialized" || /no replset config/i.test(String(e.message))) {
    rs.initiate({ _id: "rs0", members: [{ _id: 0, host: host }] });
  } else {
    throw e;
  }
}
if (!db.hello().isWritablePrimary) {
  print("replica set rs0 has no writable primary yet");
  quit(1);
}
