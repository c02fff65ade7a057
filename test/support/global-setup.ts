/**
 * Runs once before the suite: says loudly which suites are skipped because PostgreSQL was not
 * offered, so a green run without it is never mistaken for a full one.
 */
export default function setup(): void {
  if (!process.env['LATCHKEY_TEST_DATABASE_URL']) {
    process.stderr.write(
      '\n*** LATCHKEY_TEST_DATABASE_URL is not set: every PostgreSQL suite (store contract, API flows, races) is SKIPPED. ***\n' +
        '*** Set it, e.g. LATCHKEY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test, to run them.            ***\n\n',
    );
  }
}
