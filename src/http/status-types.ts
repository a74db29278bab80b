/**
 * What the status listener answers (`/api/status`, `/api/events`, `/api/admin`), as types that
 * import nothing with a runtime: the dashboard's browser code shares them.
 */
import type { LogEntry } from '../runtime/log-levels.js';
import type { TransferInfo } from '../tftp/transfer-info.js';

/** A transfer in progress: which service, which file, with whom, how far. */
export type ActiveTransfer = TransferInfo & { service: string };

export interface ServiceStatus {
  name: string;
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  /** `listening`, or what the service says of itself (a chat node: its Redis link). */
  state: string;
  /** Connections open now (TCP services). */
  connections?: number;
}

export interface Status {
  time: string;
  services: ServiceStatus[];
  /** Transfers in progress, by service (tftp, files). */
  transfers: Record<string, number>;
  /** Those that can say what they are. */
  active: ActiveTransfer[];
  rooms: { name: string; topic: string; members: string[] }[];
  /** Counters since the start, for rates: connections accepted, bytes of ended transfers. */
  totals: { connections: number; transferBytes: number };
  /** Only for a logged-in admin (in its own events, and at `/api/admin`). */
  admin?: AdminView;
}

/** What an admin sees beyond the status. */
export interface AdminView {
  user: string;
  /** Users by file usage, most first (at most 100). */
  users: { name: string; usageBytes: number | null; quotaBytes: number | 'unlimited' | null }[];
  /** How many users there are in all. */
  userCount: number;
  /** The last log lines, oldest first (at most 100). */
  log: LogEntry[];
  /** Whether stopping transfers and disconnecting chat users can be asked for here. */
  can: { stopTransfer: boolean; disconnect: boolean };
}
