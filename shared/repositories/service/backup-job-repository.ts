import { DocumentNotFoundError } from '../../core/errors.js';
import { creationOrder } from '../../domain/document-query.js';
import type { BackupJobDocument } from '../../domain/document-types.js';
import type { DocumentRepository } from '../../domain/repository-contract.js';
import type { BackupJobRepository } from '../../domain/service-repositories.js';
import { givenFields, type ServiceClock } from './service-clock.js';

/** The service's backup-job repository, on the generic one (see docs/service-repositories.md). */
export function backupJobRepository(jobs: DocumentRepository<'backup-job'>, { now }: ServiceClock): BackupJobRepository {
  return {
    createBackupJob: (job) => jobs.create({ ...job, type: 'backup-job' }),
    getBackupJob: (id, pubkey) => jobs.getById(id, pubkey),
    getUserBackupJobs: (pubkey, limit = 50) => jobs.find({ pubkey, orderBy: creationOrder('backup-job', 'desc'), limit }),

    async updateBackupJobStatus(id, pubkey, status, updates = {}) {
      const stored = await jobs.getById(id, pubkey);
      if (!stored) throw new DocumentNotFoundError('backup-job', id);
      const given = givenFields(updates);
      // Numbers, like every timestamp (the original wrote `startedAt`/`completedAt` as Date objects).
      const stamps: Partial<BackupJobDocument> = {};
      if (status === 'in_progress' && given.started === undefined) stamps.started = now();
      if ((status === 'completed' || status === 'failed') && given.completed === undefined) stamps.completed = now();
      return jobs.update({ ...stored, ...given, ...stamps, id, pubkey, type: 'backup-job', status });
    },

    async deleteBackupJob(id, pubkey) {
      await jobs.delete(id, pubkey);
    },

    // Numeric comparisons on numeric fields (the original compared ISO strings with them and never matched).
    getPendingBackupJobs: (limit = 100) =>
      jobs.find({
        where: [
          { field: 'status', equals: 'pending' },
          { field: 'scheduled', atMost: now(), orAbsent: true },
        ],
        orderBy: creationOrder('backup-job', 'asc'),
        limit,
      }),
  };
}
