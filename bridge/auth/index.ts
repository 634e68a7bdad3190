export { checkPublish, maySubscribe, type PublishKind } from "./acl.ts";
export { type Auth, type AuthFailureReason, createAuth, sourceOf } from "./auth.ts";
export { type AuthConfig, AuthConfigSchema } from "./config.ts";
export {
  CredentialStore,
  DEFAULT_SCRYPT,
  hashSecret,
  readCredentialsFile,
  setTruckSecret,
  verifySecret,
} from "./credentials.ts";
export { SourceLimiter } from "./limiter.ts";
