// The in-memory state a batch of moves shares (batch.ts): one object per
// account, however many moves name it, and what the batch read with them.
import type { LockedAccount } from "./accounts.js";
import type { Earlier, LockedRead } from "./store/reads.js";

/** The in-memory state of a batch's accounts: what each move sees of the moves before it. */
export class BatchState {
  /** Accounts by id (one object per account, however many moves name it). */
  readonly accounts = new Map<string, LockedAccount>();
  /** The same, by mandate and account key (accounts opened in the batch too). */
  readonly accountsByKey = new Map<string, LockedAccount>();
  readonly reads = new Map<string, LockedRead>();
  readonly entries = new Map<string, Earlier>();
  readonly holds = new Map<string, Earlier>();
  readonly prices = new Map<string, NonNullable<LockedRead["price"]>>();

  /** Registers an account (read, or opened by a move); the one object every move of the batch shares. */
  account(account: LockedAccount): LockedAccount {
    const known = this.accounts.get(account.id);
    if (known) return known;
    this.accounts.set(account.id, account);
    this.accountsByKey.set(`${account.mandateId}|${account.accountKey}`, account);
    return account;
  }

  snapshot() {
    return new Map([...this.accounts].map(([id, account]) => [id, { ...account }]));
  }

  /** Puts the accounts back as they were at `snapshot` (a refused move changed nothing). */
  restore(snapshot: ReturnType<BatchState["snapshot"]>): void {
    for (const [id, account] of [...this.accounts]) {
      const saved = snapshot.get(id);
      if (saved) {
        Object.assign(account, saved);
      } else {
        this.accounts.delete(id);
        this.accountsByKey.delete(`${account.mandateId}|${account.accountKey}`);
      }
    }
  }
}
