/**
 * A span per GraphQL operation (type and name only: never variables), the parent of the upstream
 * spans its resolvers make (src/core/call.ts `call`).
 */
import { context as otelContext, SpanStatusCode, trace } from '@opentelemetry/api';
import type { DefinitionNode, OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Tracing } from '../../observability/tracing.ts';

export function useTracing(tracing: Tracing): Plugin {
  if (!tracing.enabled) return {};
  return {
    onExecute({ args }) {
      const op = args.document.definitions.find((d: DefinitionNode): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
      const type = op?.operation ?? 'unknown';
      const span = tracing.tracer.startSpan(`graphql.${type}`, {
        attributes: { 'graphql.operation.type': type, ...(op?.name && { 'graphql.operation.name': op.name.value }) },
      });
      (args.contextValue as { traceContext?: unknown }).traceContext = trace.setSpan(otelContext.active(), span);
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result ? result.errors : undefined;
          if (errors?.length) span.setStatus({ code: SpanStatusCode.ERROR, message: String(errors[0].extensions?.code ?? 'error') });
          span.end();
        },
      };
    },
  };
}
