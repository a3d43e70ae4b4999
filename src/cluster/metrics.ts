/**
 * /metrics across workers: each worker answers prom-client's cluster requests with its own registry;
 * the primary serves the admin listener and sums counters and histograms over the workers (gauges
 * aggregate as each declares: the farm-server state once, availability at its lowest).
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { MetricsSource } from '../admin/admin-server.js';
import type { CounterSample } from '../admin/events.js';

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

/** Asks every worker for its gatehouse_rejections_total (null: the worker keeps no metrics). */
export type AskRejections = () => Promise<readonly (MetricObjectWithValues<MetricValue<string>> | null)[]>;

/**
 * In the primary: the rejections counter summed over the workers, for the event bus's summary
 * (EventBus.watchRejections). prom-client's cluster aggregation answers /metrics with text only, so the
 * primary asks the workers for this one counter (an `ask`) and sums it with prom-client's own
 * aggregation, as /metrics does. A worker that does not answer fails the reading (the bus then keeps its
 * last one): a sum that missed a worker would count that worker's rejections again when it answers.
 */
export function clusterRejections(ask: AskRejections): () => Promise<readonly CounterSample[]> {
  return async () => {
    const metrics = (await ask()).filter((metric): metric is MetricObjectWithValues<MetricValue<string>> => metric !== null);
    if (metrics.length === 0) return [];
    const summed = AggregatorRegistry.aggregate(metrics.map((metric) => [metric]));
    const metric = summed.getSingleMetric(metrics[0]?.name as string);
    return metric ? ((await metric.get()).values as CounterSample[]) : [];
  };
}
