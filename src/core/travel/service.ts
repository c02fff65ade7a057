import type { DirectoryAccount } from '../account/account.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import type { SelfServiceService } from '../enrollment/service.ts';
import { DomainError } from '../errors.ts';
import type { MethodId } from '../methods/method-ids.ts';
import { METHOD_GATE_FACTS } from '../policy/gates.ts';
import { resolveTier } from '../policy/tier.ts';
import type { TravelWindowIndex } from './travel-index.ts';
import { isActiveAt, NO_SIGNAL_CHANNELS, planTrip, type TravelDeclaration, type TravelWindow } from './travel.ts';

/** Finished trips stay loaded this long, so the detectors can still judge events from the last days of a trip. */
const INDEX_HORIZON_MS = 7 * 24 * 3_600_000;

export interface TripView {
  readonly id: string;
  readonly countries: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly status: 'upcoming' | 'in_force' | 'ended' | 'cancelled';
  readonly createdAt: string;
}

/** A method of the person that proves itself without a mobile signal, for the traveller's checklist. */
export interface NoSignalMethod {
  readonly id: string;
  readonly method: MethodId;
  readonly label: string;
}

export interface TravelOverview {
  readonly trips: readonly TripView[];
  /** The person's active methods that work without a phone signal (authenticator app, recovery codes, security key or passkey). */
  readonly methodsWithoutSignal: readonly NoSignalMethod[];
  /** Whether those alone cover the gates a recovery needs; if not, register more before leaving. */
  readonly enoughWithoutSignal: boolean;
}

/**
 * Declared travel: a signed-in person names the countries and dates of a trip; the location rules
 * treat recovery from there as expected, and a recovery from elsewhere during the trip needs one
 * more gate and raises a finding. Every declaration and cancellation is audited.
 */
export class TravelService {
  constructor(
    private readonly deps: AppDeps,
    private readonly selfService: SelfServiceService,
    readonly index: TravelWindowIndex,
  ) {}

  /** Reloads the in-memory index from the store (start-up, and the detector worker's refresh). */
  async refreshIndex(): Promise<boolean> {
    this.index.replaceAll(await this.deps.store.travel.listInForce(new Date(this.deps.clock.now().getTime() - INDEX_HORIZON_MS)));
    return true;
  }

  async overview(token: string): Promise<TravelOverview> {
    const { account } = await this.selfService.session(token);
    const now = this.deps.clock.now();
    const trips = await this.deps.store.travel.listForAccount(account.id, new Date(now.getTime() - INDEX_HORIZON_MS));
    return { trips: trips.map((trip) => tripView(trip, now)), ...(await this.noSignal(account)) };
  }

  async declare(token: string, declaration: TravelDeclaration, request: RequestContext): Promise<TravelOverview & { readonly trip: TripView }> {
    const { deps } = this;
    const { account } = await this.selfService.session(token);
    const now = deps.clock.now();
    const open = (await deps.store.travel.listForAccount(account.id, now)).filter((trip) => trip.cancelledAt === null);
    const plan = planTrip(declaration, now, open.length);
    if (!plan.ok) throw new DomainError('travel.invalid_input', `${plan.problem.field}: ${plan.problem.message}`, { field: plan.problem.field });
    const trip: TravelWindow = {
      id: deps.random.uuid(),
      accountId: account.id,
      countries: plan.countries,
      fromDate: declaration.fromDate,
      toDate: declaration.toDate,
      startsAt: plan.startsAt,
      endsAt: plan.endsAt,
      createdAt: now,
      cancelledAt: null,
    };
    await deps.store.transaction(async (tx) => {
      await tx.travel.insert(trip);
      await tx.audit.append([{ ...this.auditBase(account, request, now), type: 'travel.declared', outcome: 'success', reason: null, data: { trip_id: trip.id, countries: trip.countries.join(' '), from: trip.fromDate, to: trip.toDate } }]);
    });
    this.index.put(trip);
    return { trip: tripView(trip, now), ...(await this.overview(token)) };
  }

  async cancel(token: string, tripId: string, request: RequestContext): Promise<void> {
    const { deps } = this;
    const { account } = await this.selfService.session(token);
    const now = deps.clock.now();
    const cancelled = await deps.store.transaction(async (tx) => {
      if (!(await tx.travel.cancel(tripId, account.id, now))) return false;
      await tx.audit.append([{ ...this.auditBase(account, request, now), type: 'travel.cancelled', outcome: 'success', reason: null, data: { trip_id: tripId } }]);
      return true;
    });
    if (!cancelled) throw new DomainError('travel.not_found');
    const trip = await deps.store.travel.get(tripId);
    if (trip) this.index.put(trip);
  }

  private async noSignal(account: DirectoryAccount): Promise<{ methodsWithoutSignal: NoSignalMethod[]; enoughWithoutSignal: boolean }> {
    const policy = this.deps.policy();
    const enrollments = await this.deps.store.enrollments.listForAccount(account.id);
    const methodsWithoutSignal = enrollments
      .filter((enrollment) => enrollment.status === 'active' && NO_SIGNAL_CHANNELS.has(METHOD_GATE_FACTS[enrollment.methodId].channel) && METHOD_GATE_FACTS[enrollment.methodId].countsAsGate)
      .map((enrollment) => ({ id: enrollment.id, method: enrollment.methodId, label: enrollment.label }));
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    const required = tier === 'break_glass' ? Infinity : policy.tiers[tier].gatesRequired;
    const channels = new Set(methodsWithoutSignal.filter((item) => tier === 'break_glass' || policy.tiers[tier].allowedMethods.includes(item.method)).map((item) => METHOD_GATE_FACTS[item.method].channel));
    return { methodsWithoutSignal, enoughWithoutSignal: channels.size >= required };
  }

  private auditBase(account: DirectoryAccount, request: RequestContext, now: Date): Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'> {
    return { at: now, actor: { kind: 'person', id: account.id }, subject: account.id, ip: request.ip, userAgent: request.userAgent, department: account.department, tier: resolveTier(this.deps.policy(), account.groups, account.directoryPrivileged), flowId: null };
  }
}

function tripView(trip: TravelWindow, now: Date): TripView {
  const status = trip.cancelledAt !== null ? 'cancelled' : isActiveAt(trip, now) ? 'in_force' : trip.endsAt.getTime() <= now.getTime() ? 'ended' : 'upcoming';
  return { id: trip.id, countries: trip.countries, from: trip.fromDate, to: trip.toDate, status, createdAt: trip.createdAt.toISOString() };
}
