/**
 * Loses chosen change records on their way into one client, as a lost frame would: the client's
 * socket drops them before the client sees them. Used to make version gaps on purpose.
 */
import { EventEmitter } from 'node:events';
import { fromWire, type ChangeRecord } from '../../lib/protocol.js';

export interface Losses extends EventEmitter {
  /** Records lost so far. */
  lost: ChangeRecord[];
  /** Records that reached the client so far. */
  passed: ChangeRecord[];
}

/**
 * From now on, removes from every `ch` frame reaching `client` the records `matches` picks; emits
 * `lost` and `passed` with each record once the client handled the frame. Reaches into the
 * socket.io-client socket (the test's wire).
 */
export function loseChanges(client: object, matches: (record: ChangeRecord) => boolean): Losses {
  const socket = (client as { socket?: { onevent: (packet: { data: unknown[] }) => void } }).socket;
  if (!socket) throw new Error('the client has no socket yet');
  const losses = Object.assign(new EventEmitter(), { lost: [], passed: [] }) as Losses;
  const onevent = socket.onevent.bind(socket);
  socket.onevent = (packet) => {
    const [event, records, ...rest] = packet.data;
    if (event !== 'ch' || !Array.isArray(records)) return onevent(packet);
    const lost: ChangeRecord[] = [];
    const passed: ChangeRecord[] = [];
    const kept = records.filter((wire: unknown) => {
      const record = fromWire(wire);
      if (!record) return true;
      const lose = matches(record);
      (lose ? lost : passed).push(record);
      return !lose;
    });
    onevent({ ...packet, data: [event, kept, ...rest] });
    // Reported once the client has handled the frame.
    for (const record of lost) {
      losses.lost.push(record);
      losses.emit('lost', record);
    }
    for (const record of passed) {
      losses.passed.push(record);
      losses.emit('passed', record);
    }
  };
  return losses;
}
