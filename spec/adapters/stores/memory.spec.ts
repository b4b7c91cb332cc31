import { MemoryStore } from '../../../lib/index.js';
import { describeStoreConformance } from './conformance.js';

describeStoreConformance('MemoryStore', {
  create: async () => new MemoryStore(),
  close: async () => undefined,
});
