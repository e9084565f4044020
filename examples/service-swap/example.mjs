// @ts-check
/**
 * The Nostria service's side of the swap, in miniature: it imports the built package entry and calls the
 * repositories it always called. Which database answers is the settings' business alone:
 *
 *   USE_POSTGRESQL=false  AZURE_COSMOSDB_CONNECTION_STRING=...            node example.mjs   # Cosmos DB
 *   USE_POSTGRESQL=true   DATABASE_URL=postgresql://...                    node example.mjs   # PostgreSQL
 *   (DUAL_DATABASE_MODE=true with both settings: the other database is kept current, see the README)
 *
 * From this repository: `npm run build`, then run it as above (the package resolves itself by name).
 * It prints one JSON line with what it saw; test/integration/repository-package.test.ts runs it against both.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import RepositoryFactory, { DocumentNotFoundError } from 'nostria-migrate/repositories';

const pubkey = process.argv[2] ?? randomBytes(32).toString('hex');
const username = process.argv[3] ?? `example-${randomBytes(3).toString('hex')}`;

const accounts = RepositoryFactory.getAccountRepository();
const settings = RepositoryFactory.getUserSettingsRepository();
const backups = RepositoryFactory.getBackupJobRepository();
const logs = RepositoryFactory.getNotificationLogRepository();

try {
  const usernameWasTaken = await accounts.isUsernameTaken(username);
  /** @type {import('nostria-migrate/repositories').AccountDocument} */
  const account = await accounts.create({
    pubkey,
    username,
    tier: 'premium',
    subscription: { tier: 'premium', entitlements: { notificationsPerDay: 50, features: ['backup'] } },
    created: Date.now(),
  });
  await accounts.updateLoginDate(pubkey);
  await settings.upsertUserSettings(pubkey, { releaseChannel: 'beta' });
  const job = await backups.createBackupJob({ id: randomUUID(), pubkey, status: 'pending', backupType: 'full', requested: Date.now() });
  await backups.updateBackupJobStatus(job.id, pubkey, 'in_progress');
  await logs.logNotification(pubkey, { title: 'Welcome' });

  let missingJob = 'updated';
  try {
    await backups.updateBackupJobStatus(randomUUID(), pubkey, 'completed');
  } catch (error) {
    if (!(error instanceof DocumentNotFoundError)) throw error;
    missingJob = error.code;
  }

  const stored = await accounts.getByUsername(username.toUpperCase());
  console.log(
    JSON.stringify({
      usePostgres: process.env.USE_POSTGRESQL === 'true',
      id: account.id,
      usernameWasTaken,
      usernameTakenNow: await accounts.isUsernameTaken(username),
      foundByUsername: stored?.pubkey === pubkey,
      loggedIn: typeof stored?.lastLoginDate === 'number',
      premium: await accounts.hasPremiumSubscription(pubkey),
      betaUsers: (await settings.getUsersByReleaseChannel('beta')).includes(pubkey),
      jobStatus: (await backups.getBackupJob(job.id, pubkey))?.status,
      missingJob,
      notificationsToday: await logs.get24HourNotificationCount(pubkey),
    }),
  );
} finally {
  await RepositoryFactory.disconnect();
}
