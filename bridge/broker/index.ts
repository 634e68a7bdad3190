export {
  type Broker,
  type BrokerConnection,
  type BrokerEvents,
  type BrokerOptions,
  type BrokerPublish,
  createBroker,
  type ReadGuard,
} from "./broker.ts";
export { isMqtt5, type Mqtt5ServerProperties } from "./mqtt5.ts";
export { PacketSizeScanner, type ScanVerdict } from "./packet-size.ts";
export { checkEngines, SUPPORTED_ENGINES } from "./self-check.ts";
