// Metrics shared by every collector on one registry: two workers in one process (or a worker and
// the dashboard) register pgq's metrics once and add to the same series.
import type { Counter, Gauge, Histogram, Registry } from 'prom-client'

type Kind = typeof Counter | typeof Gauge | typeof Histogram

/**
 * @internal The metric named `config.name` on `registry`: the one already registered there (when
 * it has the same type), else a new one registered on it.
 */
export function sharedMetric<K extends Kind>(
  registry: Registry,
  Type: K,
  config: ConstructorParameters<K>[0],
): InstanceType<K> {
  const existing = registry.getSingleMetric(config.name)
  if (existing instanceof Type) return existing as InstanceType<K>
  const Ctor = Type as unknown as new (c: typeof config) => InstanceType<K>
  return new Ctor({ ...config, registers: [registry] })
}
