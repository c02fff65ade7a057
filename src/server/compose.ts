import { readFile } from 'node:fs/promises';
import type { AppDeps } from '../core/app/deps.ts';
import { BuiltinAccountAdmin } from '../core/account/builtin-admin.ts';
import { RecoveryService } from '../core/flows/recovery/service.ts';
import { PrivilegedRecovery } from '../core/flows/recovery/privileged-recovery.ts';
import { SelfServiceService } from '../core/enrollment/service.ts';
import { MethodLifecycleService } from '../core/lifecycle/service.ts';
import { DEFAULT_POLICY_FILE_URL } from '../core/policy/default-policy.ts';
import { formatPolicyError, parsePolicy } from '../core/policy/load.ts';
import type { Policy } from '../core/policy/schema.ts';
import type { Clock } from '../core/ports/system.ts';
import type { Store } from '../core/ports/store.ts';
import type { MessageChannel, MessageChannelKind } from '../core/ports/message-channel.ts';
import { createChannels } from '../adapters/channel/create-channels.ts';
import { createPwnedRangeCheck } from '../adapters/breach/pwned-range-check.ts';
import { createBuiltinDirectory, normalisePassword } from '../adapters/directory/builtin/builtin-directory.ts';
import { createDirectoryFromConfig } from '../adapters/directory/ldap/create-directory.ts';
import { createMemoryRateLimiter, createPostgresRateLimiter } from '../adapters/rate-limit/rate-limiter.ts';
import { openStore } from '../adapters/store/open-store.ts';
import { createPostgresStore } from '../adapters/store/postgres.ts';
import { migrateStore } from '../adapters/store/open-store.ts';
import { createArgon2Hasher } from '../adapters/system/argon2-hasher.ts';
import { systemClock } from '../adapters/system/clock.ts';
import { createSecretCipher, createSecretHasher, loadOrCreateKeyring } from '../adapters/system/keyring.ts';
import { createSystemRandom } from '../adapters/system/random.ts';
import { ConfigError, type Config } from './config/config.ts';
import { OutboxWorker } from './workers/outbox-worker.ts';
import { FlowSweeper } from './workers/flow-sweeper.ts';
import { AuditExporter } from './workers/audit-exporter.ts';
import { AuditCheckpointer } from './workers/audit-checkpointer.ts';
import { AuditRetention } from './workers/audit-retention.ts';
import { loadOrCreateSigningKey, type LoadedSigningKey } from '../adapters/audit-evidence/signing-key.ts';
import { hostname } from 'node:os';
import { BreakGlassService } from '../core/breakglass/service.ts';
import { BreakGlassWatch } from './workers/breakglass-watch.ts';
import { createAuditExportSinks } from '../adapters/audit-export/create-sinks.ts';
import { AdminTokenService } from './admin-tokens.ts';
import { AdminQueries } from '../core/app/admin-queries.ts';
import { AdminSessionService } from '../core/admin/admin-sessions.ts';
import { AdminAccountActions } from '../core/admin/account-actions.ts';
import { AccessPassService } from '../core/helpdesk/access-passes.ts';
import { HelpdeskService } from '../core/helpdesk/service.ts';
import { DayOneService } from '../core/dayone/service.ts';
import { AdminAuth } from './admin/admin-auth.ts';
import { servedOverTls } from './pages/portal-config.ts';
import { resolveRelyingParty } from './config/webauthn.ts';
import { ReportService } from '../core/reports/service.ts';
import { DEV_OUTBOX_CHANNEL_NAME } from '../adapters/channel/dev-outbox/dev-outbox-channel.ts';
import { AlertService, type AlertSettings } from '../core/monitoring/alerts/alert-service.ts';
import { createAlertDeliverers } from '../adapters/alert-delivery/create-deliverers.ts';
import { AlertDeliveryWorker } from './workers/alert-delivery-worker.ts';
import type { FindingSink } from '../core/monitoring/finding-sink.ts';
import { DetectorRunner } from '../core/monitoring/detector-runner.ts';
import { GEOIP_DETECTORS } from '../core/monitoring/detectors/catalog.ts';
import { createMaxmindGeoIp, GeoIpDatabaseError, type MaxmindGeoIp } from '../adapters/geoip/maxmind-geoip.ts';
import { createFileDenyList, DenyListError, type FileDenyList } from '../adapters/geoip/deny-list-files.ts';
import { DetectorWorker } from './workers/detector-worker.ts';
import { SimSwapGuard } from '../core/phone/sim-swap-guard.ts';
import { createCamaraSimSwapCheck } from '../adapters/sim-swap/camara-sim-swap.ts';
import { TravelService } from '../core/travel/service.ts';
import { TravelStartCheck, TravelWindowIndex } from '../core/travel/travel-index.ts';
import { PolicyInForceError, PolicyService } from '../core/policy/paths/policy-service.ts';
import { PolicyRefresher } from './workers/policy-refresher.ts';

export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
}

/** Reads and validates the policy file (or the shipped default); errors are `FILE:LINE:COL message`. */
export async function loadPolicyFile(path: string | undefined): Promise<{ policy: Policy; source: string; text: string }> {
  const source = path ?? DEFAULT_POLICY_FILE_URL.pathname;
  const text = await readFile(path ?? DEFAULT_POLICY_FILE_URL, 'utf8');
  const parsed = parsePolicy(text, source);
  if (!parsed.ok) throw new PolicyLoadError(parsed.errors.map(formatPolicyError).join('\n'));
  return { policy: parsed.policy, source, text };
}

export interface ComposeOptions {
  readonly clock?: Clock;
  /** Test seam: a PostgreSQL schema to isolate this instance's tables in. */
  readonly postgresSchema?: string;
  /** Where start-up notices go (key file created, …). */
  readonly notice?: (message: string) => void;
  /** Test seam: where the detectors hand their findings instead of the alert service. */
  readonly findingSink?: FindingSink;
}

/** Every running part of one Latchkey instance, built from configuration. */
export interface Latchkey {
  readonly config: Config;
  readonly deps: AppDeps;
  readonly store: Store;
  readonly recovery: RecoveryService;
  /** Admin notices and confirmation holds of privileged recoveries (docs/privileged-accounts.md). */
  readonly privileged: PrivilegedRecovery;
  readonly selfService: SelfServiceService;
  /** Method changes: cooling-off, "this wasn't me" links and freezes, re-confirmation (docs/lifecycle.md). */
  readonly lifecycle: MethodLifecycleService;
  /** Declared trips (self-service API) and the in-memory index the location rules read. */
  readonly travel: TravelService;
  readonly accounts: BuiltinAccountAdmin;
  readonly adminTokens: AdminTokenService;
  readonly adminQueries: AdminQueries;
  /** Admin-console sign-in and sessions (docs/admin.md). */
  readonly adminSessions: AdminSessionService;
  /** Resolves every admin request to a principal and checks its permission. */
  readonly adminAuth: AdminAuth;
  /** Unlock and revoke-method actions of the console, with the admin as actor. */
  readonly adminAccounts: AdminAccountActions;
  /** Temporary Access Passes: sign-in with a pass, forced registration, expiry (docs/helpdesk-and-tap.md). */
  readonly accessPasses: AccessPassService;
  /** The helpdesk path: verify a person, issue a pass. */
  readonly helpdesk: HelpdeskService;
  /** Day-one passes for new hires, in bulk. */
  readonly dayOne: DayOneService;
  readonly reports: ReportService;
  readonly channels: Readonly<Record<MessageChannelKind, MessageChannel>>;
  readonly worker: OutboxWorker;
  readonly sweeper: FlowSweeper;
  /** Forwards the audit log to the configured sinks; `serve` starts it. */
  readonly auditExporter: AuditExporter;
  /** Signed checkpoints and retention of the audit log; `serve` starts the workers (retention only when configured). */
  readonly evidence: {
    readonly signingKey: LoadedSigningKey;
    readonly checkpointer: AuditCheckpointer;
    readonly retention: AuditRetention | null;
  };
  /** Stores, deduplicates and throttles alerts: the FindingSink detectors raise into. */
  readonly alerts: AlertService;
  /** Delivers alert notifications to webhooks and syslog; `serve` starts it. */
  readonly alertWorker: AlertDeliveryWorker;
  /** The anomaly detectors: the runner (also the start path's risk check) and its worker, which `serve` starts. */
  readonly detectors: {
    readonly runner: DetectorRunner;
    readonly worker: DetectorWorker;
    readonly denyList: FileDenyList | null;
    readonly geoip: MaxmindGeoIp | null;
  };
  readonly policySource: string;
  /** Break-glass custody (docs/break-glass.md) and its watch worker, which `serve` starts. */
  readonly breakGlass: { readonly service: BreakGlassService; readonly watch: BreakGlassWatch };
  /** The policy in force, its published versions, paths, findings and what-if simulation. */
  readonly policies: PolicyService;
  /** Applies versions published elsewhere within seconds; `serve` starts it. */
  readonly policyRefresher: PolicyRefresher;
  close(): Promise<void>;
}

/** Opens the GeoIP database and deny lists the detectors use; an unreadable or malformed file is a configuration error naming its key. */
async function openDetectorFiles(config: Config, notice?: (message: string) => void): Promise<{ geoip: MaxmindGeoIp | null; denyList: FileDenyList | null }> {
  const { geoipDatabase, asnDatabase, denyListFiles } = config.detectors;
  let geoip: MaxmindGeoIp | null = null;
  try {
    geoip = geoipDatabase ? await createMaxmindGeoIp({ cityDatabase: geoipDatabase, asnDatabase }) : null;
  } catch (error) {
    if (error instanceof GeoIpDatabaseError) throw new ConfigError([`detectors.${asnDatabase && error.message.includes(asnDatabase) ? 'asnDatabase' : 'geoipDatabase'}: ${error.message}`]);
    throw error;
  }
  try {
    const denyList = denyListFiles.length > 0 ? await createFileDenyList({ files: denyListFiles, onError: (problem) => notice?.(`Deny list not reloaded, the previous version stays in force: ${problem.message}`) }) : null;
    return { geoip, denyList };
  } catch (error) {
    if (error instanceof DenyListError) throw new ConfigError([`detectors.denyListFiles: ${error.message}`]);
    throw error;
  }
}

/** The composition root: the one place that picks adapters for ports. */
export async function composeLatchkey(config: Config, options: ComposeOptions = {}): Promise<Latchkey> {
  const clock = options.clock ?? systemClock;
  const random = createSystemRandom();
  const { policy, source: policySource, text: policyText } = await loadPolicyFile(config.policyFile);
  // The same checks guard every published version (PolicyService), so no instance runs a policy it cannot honour.
  const policyServerProblems = (candidate: Policy, source: string): string[] => {
    const problems: string[] = [];
    if (!config.breachedPasswordApi && (candidate.tiers.standard.password.breachedCheck || candidate.tiers.privileged.password.breachedCheck)) {
      problems.push(`${source}: the policy turns on breachedCheck but breachedPasswordApi.url is not configured`);
    }
    const geoNeeded = GEOIP_DETECTORS.filter((id) => candidate.monitoring[id].enabled);
    if (geoNeeded.length > 0 && !config.detectors.geoipDatabase) {
      problems.push(`${source}: the policy turns on monitoring.${geoNeeded.join(' and monitoring.')} but detectors.geoipDatabase is not configured`);
    }
    return problems;
  };
  const fileProblems = policyServerProblems(policy, policySource);
  if (fileProblems.length > 0) throw new PolicyLoadError(fileProblems.join('\n'));
  const { geoip, denyList } = await openDetectorFiles(config, options.notice);
  const keys = await loadOrCreateKeyring({ envSpec: config.encryptionKey, dataDir: config.dataDir, random });
  if (keys.source === 'created') options.notice?.(`Created a new encryption key file at ${keys.path}. Back it up: without it, registered methods cannot be read.`);
  const store =
    config.databaseUrl && options.postgresSchema
      ? await createPostgresStore({ connectionString: config.databaseUrl, schema: options.postgresSchema })
      : await openStore({ ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), dataDir: config.dataDir, migrate: false });
  await migrateStore(store);
  const rateLimiter = config.databaseUrl
    ? await createPostgresRateLimiter({ connectionString: config.databaseUrl, ...(options.postgresSchema ? { schema: options.postgresSchema } : {}) })
    : createMemoryRateLimiter();
  const passwords = createArgon2Hasher();
  const opened = await PolicyService.open(
    { store, clock, directory: () => directory, serverProblems: policyServerProblems, ...(options.notice ? { notice: options.notice } : {}) },
    { text: policyText, source: policySource },
  ).catch((error: unknown) => {
    if (error instanceof PolicyInForceError) throw new PolicyLoadError(error.message);
    throw error;
  });
  const policies = opened.service;
  if (opened.fileDiffers) {
    const inForce = policies.currentVersion();
    options.notice?.(
      `The policy file ${policySource} differs from policy version ${inForce.version} in force (published ${inForce.createdAt.toISOString()}: ${inForce.reason}); the published version applies. To apply the file: latchkey policy publish ${policySource} --reason "..."`,
    );
  }
  // Every reader goes through this function, so a version published elsewhere applies to the next request.
  const currentPolicy = (): Policy => policies.current();
  const policyRefresher = new PolicyRefresher(
    policies,
    config.policyRefresh.pollIntervalMs,
    (version) => options.notice?.(`Policy version ${version} is now in force.`),
    (error) => options.notice?.(`policy refresh: ${error instanceof Error ? error.message : String(error)} (retrying)`),
  );
  const directoryConfig = config.directory;
  const ldapDirectory = directoryConfig.kind === 'builtin' ? null : await createDirectoryFromConfig({ ...directoryConfig, kind: directoryConfig.kind }, { store, clock, phoneRegion: config.phone.defaultRegion ?? null });
  const directory = ldapDirectory?.directory ?? createBuiltinDirectory({ store, hasher: passwords, clock, lockoutThreshold: () => currentPolicy().signIn.lockoutThreshold });
  const deps: AppDeps = {
    store,
    directory,
    clock,
    random,
    // Keyed hashes stay under the oldest key in the ring (the last listed): rotating the primary by
    // prepending a new key must not orphan stored recovery codes, fingerprints and token hashes.
    secrets: createSecretHasher(keys.keyring, { kid: keys.keyring.kids[keys.keyring.kids.length - 1] ?? keys.keyring.primaryKid }),
    cipher: createSecretCipher(keys.keyring),
    passwords,
    rateLimiter,
    breach: config.breachedPasswordApi ? createPwnedRangeCheck({ baseUrl: config.breachedPasswordApi.url }) : null,
    policy: currentPolicy,
    relyingParty: resolveRelyingParty(config.webauthn, { publicUrl: config.portal.publicUrl, port: config.port, organisation: config.portal.branding.organisationName ?? currentPolicy().organisationName }),
  };
  const channels = createChannels({ smtp: config.smtp, sms: config.sms });
  const worker = new OutboxWorker({ store, cipher: deps.cipher, clock, channels, maxAttempts: config.outbox.maxAttempts, pollIntervalMs: config.outbox.pollIntervalMs });
  // The runner is built before the alert service it raises into (the recovery engine needs it as its
  // risk check), so the sink is looked up when a finding is handed on, not now.
  const findingSink: FindingSink = { raise: (finding) => (options.findingSink ?? alerts).raise(finding) };
  const travelWindows = new TravelWindowIndex();
  const detectorRunner = new DetectorRunner({ store, sink: findingSink, clock, monitoring: () => currentPolicy().monitoring, context: { geo: geoip, denyList, travelWindows } });
  await detectorRunner.restore();
  const detectorWorker = new DetectorWorker({
    runner: detectorRunner,
    pollIntervalMs: config.detectors.pollIntervalMs,
    // Trips declared on another instance reach this one's index with the refresh.
    refreshables: [...[denyList, geoip].filter((item) => item !== null), { refresh: () => travel.refreshIndex() }],
    refreshIntervalMs: config.detectors.refreshIntervalSeconds * 1000,
    onError: (error) => options.notice?.(`detector worker: ${error instanceof Error ? error.message : String(error)} (retrying)`),
  });
  const privileged = new PrivilegedRecovery(deps, config.securityAdmins.emails);
  const simSwapGuard = config.simSwap ? new SimSwapGuard(createCamaraSimSwapCheck(config.simSwap, { now: () => clock.now() }), deps.cipher, findingSink) : null;
  const recovery = new RecoveryService(deps, detectorRunner, privileged, { simSwap: simSwapGuard, travel: new TravelStartCheck(travelWindows, geoip) });
  const lifecycle = new MethodLifecycleService(deps, { publicOrigin: (config.portal.publicUrl ?? `http://${config.host}:${config.port}`).replace(/\/$/, ''), findings: findingSink });
  const selfService = new SelfServiceService(deps, recovery, config.phone.defaultRegion ?? null, lifecycle);
  const travel = new TravelService(deps, selfService, travelWindows);
  await travel.refreshIndex();
  const accessPasses = new AccessPassService(deps);
  const sweeper = new FlowSweeper(recovery, undefined, privileged, accessPasses);
  const alertDeliverers = createAlertDeliverers(config.alerts, clock);
  const alertSettings: AlertSettings = { throttle: config.alerts.throttle, emailRecipients: config.alerts.email?.recipients ?? [], targets: [...alertDeliverers.keys()] };
  const alerts = new AlertService(deps, () => alertSettings);
  const alertWorker = new AlertDeliveryWorker({ store, clock, alerts, deliverers: alertDeliverers, maxAttempts: config.alerts.delivery.maxAttempts, pollIntervalMs: config.alerts.delivery.pollIntervalMs });
  const { sinks: sinkConfigs, ...exportTiming } = config.auditExport;
  const auditExporter = new AuditExporter({ store, clock, sinks: createAuditExportSinks(sinkConfigs), ...exportTiming });
  const signingKey = await loadOrCreateSigningKey({ pem: config.audit.signingKey, file: config.audit.signingKeyFile, dataDir: config.dataDir, random });
  if (signingKey.source === 'created') options.notice?.(`Created a new audit signing key at ${signingKey.path}. Give auditors its public key: latchkey audit public-key`);
  const checkpointWriter = { signer: signingKey.signer, clock, instance: config.audit.instance ?? hostname() };
  const checkpointer = new AuditCheckpointer({ ...checkpointWriter, store, cadence: config.audit.checkpoint, pollIntervalMs: config.audit.checkpoint.pollIntervalMs });
  const retention = config.audit.retention
    ? new AuditRetention({ ...checkpointWriter, store, settings: config.audit.retention, sinkNames: sinkConfigs.map((sink) => sink.name), waitForDetectors: true })
    : null;
  const breakGlass = new BreakGlassService(deps, findingSink, { signer: signingKey.signer, instance: checkpointWriter.instance }, (except) => privileged.securityAdminEmails(except));
  const breakGlassWatch = new BreakGlassWatch({
    service: breakGlass,
    intervalMs: () => currentPolicy().breakGlass.watchIntervalMinutes * 60_000,
    onError: (error) => options.notice?.(`break-glass watch: ${error instanceof Error ? error.message : String(error)} (retrying)`),
  });
  const adminTokens = new AdminTokenService(deps);
  const adminSessions = new AdminSessionService(deps, () => ({ idleSeconds: config.admin.sessionIdleSeconds, absoluteSeconds: config.admin.sessionLifetimeSeconds, roleRecheckSeconds: config.admin.roleRecheckSeconds }));
  const adminAuth = new AdminAuth({ sessions: adminSessions, tokens: adminTokens, store, clock, secrets: deps.secrets, secure: servedOverTls(config.portal) });
  return {
    config,
    deps,
    store,
    breakGlass: { service: breakGlass, watch: breakGlassWatch },
    recovery,
    privileged,
    selfService,
    lifecycle,
    travel,
    accounts: new BuiltinAccountAdmin({ store, hasher: passwords, clock, random, normalisePassword, policy: currentPolicy }),
    adminTokens,
    adminSessions,
    adminAuth,
    adminAccounts: new AdminAccountActions(deps),
    accessPasses,
    helpdesk: new HelpdeskService(deps, () => ({
      approvalBaseUrl: config.helpdesk.approvalBaseUrl ?? config.portal.publicUrl ?? `http://${config.host}:${config.port}`,
      managerEmails: config.helpdesk.managerEmails,
    })),
    dayOne: new DayOneService(deps),
    adminQueries: new AdminQueries(deps, new Set((['email', 'sms'] as const).filter((kind) => channels[kind].name === DEV_OUTBOX_CHANNEL_NAME))),
    reports: new ReportService(deps, { staleAfterDays: config.reports.staleEnrollmentDays, ...config.reports.helpdesk }),
    channels,
    worker,
    sweeper,
    auditExporter,
    evidence: { signingKey, checkpointer, retention },
    alerts,
    alertWorker,
    detectors: { runner: detectorRunner, worker: detectorWorker, denyList, geoip },
    policySource,
    policies,
    policyRefresher,
    async close() {
      await policyRefresher.stop();
      await breakGlassWatch.stop();
      await detectorWorker.stop();
      sweeper.stop();
      await worker.stop();
      await auditExporter.stop();
      await checkpointer.stop();
      await retention?.stop();
      await alertWorker.stop();
      await Promise.all([...alertDeliverers.values()].map((deliverer) => deliverer.close?.()));
      await Promise.all([channels.email.close?.(), channels.sms.close?.()]);
      await rateLimiter.close();
      await ldapDirectory?.close();
      await store.close();
    },
  };
}
