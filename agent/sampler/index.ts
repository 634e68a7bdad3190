export { type SamplerConfig, SamplerConfigSchema } from "./config.ts";
export { createSampler, distanceM, headingChange, type Sampler, type SamplerDeps } from "./sampler.ts";
