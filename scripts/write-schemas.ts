/** Writes the JSON Schema of the snapshot format from its zod definition: `npm run schemas`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { snapshotJsonSchema } from '../src/core/snapshot.js';

const file = fileURLToPath(new URL('../schemas/snapshot-v1.schema.json', import.meta.url));
writeFileSync(file, `${JSON.stringify(snapshotJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
