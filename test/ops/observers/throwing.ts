// An observer that fails every way it can: a synchronous throw on start, a rejection on end, and
// it tries to mutate what it gets. None of it may reach a session.
export default {
  onSessionStart(e: { session: string; agent: string }): void {
    e.agent = 'tampered';
    throw new Error(`throwing observer: start of ${e.session}`);
  },
  async onSessionEnd(e: { session: string }): Promise<void> {
    throw new Error(`throwing observer: end of ${e.session}`);
  },
};
