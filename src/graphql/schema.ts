import { builder } from './builder.ts';
import './api-key.ts';
import '../operations/providers.fields.ts';
import '../operations/update-api-key.fields.ts';
import '../operations/read-api-keys.fields.ts';
import '../operations/update-api-keys.fields.ts';
import '../operations/preview-api-key-update.fields.ts';
import '../operations/audit-log.fields.ts';
import '../operations/api-key-update-jobs.fields.ts';
import './viewer.ts';

export const schema = builder.toSchema({ sortSchema: false });
