// Reads a topic from the beginning and prints "<ce_id> <arrival epoch ms>" per message: run as its
// own process so the load generator's event loop does not delay (and inflate) the measurement.
import { randomUUID } from 'node:crypto';
import { createKafka } from '../dist/kafka/client.js';

const [brokers, topic] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const consumer = createKafka({ brokers: [brokers] }).consumer({ groupId: `bench-${randomUUID()}`, maxWaitTimeInMs: 50 });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachBatchAutoResolve: true,
  eachBatch: async ({ batch }) => {
    const at = now();
    process.stdout.write(batch.messages.map((m) => `${m.headers.ce_id} ${at}\n`).join(''));
  },
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => consumer.disconnect().finally(() => process.exit(0)));
