/**
 * /metrics across workers: each worker answers prom-client's cluster requests with its own registry;
 * the primary serves the admin listener and sums counters and histograms over the workers (gauges
 * aggregate as each declares: the farm-server state once, availability at its lowest).
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsSource } from '../admin/admin-server.js';

/** In a worker: the registry the primary's aggregation asks for. */
export function offerWorkerMetrics(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener that answers the primary's requests.
  new AggregatorRegistry();
}

/** In the primary: a source that gathers every worker's metrics at each scrape. */
export function clusterMetricsSource(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return {
    registry: {
      contentType: aggregator.contentType,
      metrics: () => aggregator.clusterMetrics(),
    },
  };
}
