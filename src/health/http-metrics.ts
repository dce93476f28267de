import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Histogram } from 'prom-client';

/** The `route` label of requests no route matched: raw URLs would make one series per probe of a scanner. */
export const UNMATCHED_ROUTE = '(unmatched)';

/**
 * Times every response into `wagw_http_request_duration_seconds{route, method, status_code}`.
 * `route` is the route pattern (`/api/v1/sessions/:id`), never the URL, so the label set stays bounded.
 * Register before the routes (the hook is the root instance's, so it sees every route and the 404s).
 */
async function httpMetricsPlugin(app: FastifyInstance, options: { histogram: Histogram<'route' | 'method' | 'status_code'> }): Promise<void> {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    options.histogram.observe({ route, method: request.method, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
}

export const httpMetrics = fp(httpMetricsPlugin, { name: 'http-metrics', fastify: '5.x' });
