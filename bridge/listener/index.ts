export { type ListenerConfig, ListenerConfigSchema } from "./config.ts";
export { type ConnectionRefusal, createListener, type Listener, type ListenerDeps } from "./listener.ts";
export { acceptMqtt5, installMqtt5Writer, isMqtt5, type Mqtt5ServerProperties } from "./mqtt5.ts";
