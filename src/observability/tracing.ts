/**
 * Optional tracing (off by default): with `tracing.otlpEndpoint`, spans for each GraphQL operation
 * and each upstream call are exported over OTLP/HTTP, and the W3C `traceparent` of the upstream
 * span is forwarded to the vendor. Spans carry names, provider, method, status and attempts —
 * never variables, bodies or headers. Without an endpoint nothing is created or printed.
 *
 * The tracer provider is keygate's own, never registered globally.
 */
import { createRequire } from 'node:module';
import { context as otelContext, INVALID_SPAN_CONTEXT, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';

// The SDK, the exporter and their dependencies are large: they load only when tracing is on.
const require = createRequire(import.meta.url);

export interface TracingConfig {
  otlpEndpoint?: string;
  serviceName: string;
}

export interface Tracing {
  enabled: boolean;
  tracer: Tracer;
  /** Runs `work` in a span that is a child of `parent`; the span ends when `work` settles. */
  inSpan<T>(name: string, parent: Context | undefined, attributes: Record<string, string | number>, work: (span: Span, ctx: Context) => Promise<T>): Promise<T>;
  /** The `traceparent` header value for a span context. */
  traceparent(ctx: Context): string | undefined;
  shutdown(): Promise<void>;
}

const noopTracer = trace.getTracer('keygate-noop');

export function createTracing(config: TracingConfig | undefined): Tracing {
  if (!config?.otlpEndpoint) {
    return {
      enabled: false,
      tracer: noopTracer,
      inSpan: (_name, parent, _attrs, work) => work(trace.wrapSpanContext(INVALID_SPAN_CONTEXT), parent ?? otelContext.active()),
      traceparent: () => undefined,
      shutdown: async () => {},
    };
  }
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const propagator = new W3CTraceContextPropagator();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpEndpoint }), { scheduledDelayMillis: 200 })],
  });
  const tracer = provider.getTracer('keygate');
  return {
    enabled: true,
    tracer,
    async inSpan(name, parent, attributes, work) {
      const span = tracer.startSpan(name, { attributes }, parent ?? otelContext.active());
      const ctx = trace.setSpan(parent ?? otelContext.active(), span);
      try {
        const result = await work(span, ctx);
        return result;
      } catch (err) {
        const code = (err as { extensions?: { code?: unknown } }).extensions?.code;
        span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' });
        throw err;
      } finally {
        span.end();
      }
    },
    traceparent(ctx) {
      const carrier: Record<string, string> = {};
      propagator.inject(ctx, carrier, {
        set: (c, k, v) => {
          c[k] = v;
        },
      });
      return carrier.traceparent;
    },
    shutdown: () => provider.shutdown(),
  };
}
