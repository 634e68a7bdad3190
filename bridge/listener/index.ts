export { type ListenerConfig, ListenerConfigSchema } from "./config.ts";
export { type ConnectionRefusal, createListener, type Listener, type ListenerDeps } from "./listener.ts";
