import { builder } from './builder.ts';
import './api-key.ts';
import './providers.ts';
import './update-api-key.ts';
import './read-api-keys.ts';
import './update-api-keys.ts';
import './preview-api-key-update.ts';
import './audit-log.ts';
import './viewer.ts';

export const schema = builder.toSchema({ sortSchema: false });
