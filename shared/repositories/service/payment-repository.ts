import { creationOrder } from '../../domain/document-query.js';
import type { DocumentRepository } from '../../domain/repository-contract.js';
import type { PaymentRepository } from '../../domain/service-repositories.js';
import type { ServiceClock } from './service-clock.js';

/** The service's payment repository, on the generic one (see docs/service-repositories.md). */
export function paymentRepository(payments: DocumentRepository<'payment'>, { now }: ServiceClock): PaymentRepository {
  return {
    create: (payment) => payments.create({ ...payment, type: 'payment' }),
    update: (payment) => payments.update({ ...payment, type: 'payment', modified: now() }),
    get: (id, pubkey) => payments.getById(id, pubkey),
    getAllPayments: (limit = 100) => payments.find({ orderBy: creationOrder('payment', 'desc'), limit }),
  };
}
