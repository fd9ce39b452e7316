import { builder } from './builder.ts';
import './api-key.ts';
import './providers.ts';
import './update-api-key.ts';

export const schema = builder.toSchema({ sortSchema: false });
