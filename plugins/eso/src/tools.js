// The ESO plugin's tools: their definitions (input and output schemas, annotations) and
// handlers. Handlers return the structured result; a ToolError becomes a failed result whose
// message tells the agent what to do.
//
// Nothing here reads a Secret: results hold the ExternalSecret's and stores' spec references
// (names of remote keys, never values), their status conditions and Kubernetes Events. A
// template's data may hold literal text, so only its keys are shown.

import {
  CLUSTER_SECRET_STORES,
  Client,
  EVENTS,
  EXTERNAL_SECRETS,
  SECRET_STORES,
  ToolError,
  excerpt,
} from "./kube.js";

/** Rows a list answers at most; the rest are counted, not shown. */
const MAX_ROWS = 200;
/** Events `get_external_secret` shows at most (the newest). */
const MAX_EVENTS = 50;
/** Characters of a condition or event message shown at most. */
const MAX_MESSAGE = 500;
/** The annotation that asks ESO to sync an ExternalSecret now, as `kubectl annotate es NAME force-sync=$(date +%s)` sets it. */
export const FORCE_SYNC = "force-sync";

const NAMESPACE_PATTERN = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
const string = { type: "string" };

const targetArgument = {
  type: "string",
  minLength: 1,
  maxLength: 64,
  description: "Which Kubernetes API (cluster) of this capstan instance to ask, by target name; defaults to its default target.",
};

function namespaceArgument(description) {
  return { type: "string", pattern: NAMESPACE_PATTERN, description };
}

const nameArgument = {
  type: "string",
  minLength: 1,
  maxLength: 253,
  description: "The ExternalSecret's name (metadata.name).",
};

/** An object schema of `properties` that refuses other fields. */
function object(properties, required = []) {
  return { type: "object", properties, required, additionalProperties: false };
}

/** An object schema for results (open: later versions may add fields). */
function resultObject(properties, required) {
  return { type: "object", properties, required };
}

const readinessSchema = {
  type: "object",
  description: "The Ready condition: `ready` is True, False or Unknown (no condition yet); reason and message say why when it is not True.",
  properties: {
    ready: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: string,
    message: string,
    since: { type: "string", description: "When the condition last changed." },
  },
  required: ["ready"],
};

const externalSecretRow = resultObject(
  {
    name: string,
    namespace: string,
    store: { type: "string", description: "`Kind/name` of the SecretStore or ClusterSecretStore it reads." },
    targetSecret: { type: "string", description: "The name of the Secret it writes (never its contents)." },
    refreshInterval: string,
    refreshPolicy: string,
    lastRefresh: { type: "string", description: "status.refreshTime: when ESO last synced it." },
    status: readinessSchema,
  },
  ["name", "namespace", "store", "status"],
);

const storeRow = resultObject(
  {
    kind: { type: "string", enum: ["SecretStore", "ClusterSecretStore"] },
    name: string,
    namespace: { type: "string", description: "Empty for a ClusterSecretStore." },
    provider: { type: "string", description: "The provider configured in spec.provider, e.g. `vault` or `aws`." },
    capabilities: { type: "string", description: "ReadOnly, WriteOnly or ReadWrite, as ESO found them." },
    status: readinessSchema,
  },
  ["kind", "name", "status"],
);

const eventRow = resultObject(
  {
    lastSeen: string,
    type: string,
    reason: string,
    message: string,
    count: { type: "integer" },
  },
  ["type", "reason", "message"],
);

function text(value) {
  return typeof value === "string" ? value : "";
}

/** The Ready condition of an object's status. */
export function readiness(item) {
  const conditions = Array.isArray(item?.status?.conditions) ? item.status.conditions : [];
  const ready = conditions.find((condition) => condition?.type === "Ready");
  if (ready === undefined) {
    return { ready: "Unknown", reason: "NoReadyCondition", message: "ESO has not reported on it yet (no Ready condition): is the controller running?" };
  }
  const status = ["True", "False"].includes(ready.status) ? ready.status : "Unknown";
  const row = { ready: status };
  if (status !== "True" || text(ready.reason) !== "") {
    row.reason = text(ready.reason);
  }
  if (status !== "True") {
    row.message = excerpt(text(ready.message), MAX_MESSAGE);
  }
  if (text(ready.lastTransitionTime) !== "") {
    row.since = ready.lastTransitionTime;
  }
  return row;
}

function storeRef(item) {
  const ref = item?.spec?.secretStoreRef ?? {};
  const kind = text(ref.kind) === "" ? "SecretStore" : ref.kind;
  return { kind, name: text(ref.name) };
}

function externalSecretSummary(item) {
  const ref = storeRef(item);
  const row = {
    name: text(item?.metadata?.name),
    namespace: text(item?.metadata?.namespace),
    store: `${ref.kind}/${ref.name}`,
    targetSecret: text(item?.spec?.target?.name) || text(item?.status?.binding?.name) || text(item?.metadata?.name),
    status: readiness(item),
  };
  for (const [key, value] of [
    ["refreshInterval", item?.spec?.refreshInterval],
    ["refreshPolicy", item?.spec?.refreshPolicy],
    ["lastRefresh", item?.status?.refreshTime],
  ]) {
    if (text(value) !== "") {
      row[key] = value;
    }
  }
  return row;
}

function storeSummary(kind, item) {
  const provider = item?.spec?.provider;
  const row = {
    kind,
    name: text(item?.metadata?.name),
    namespace: text(item?.metadata?.namespace),
    provider: provider && typeof provider === "object" ? Object.keys(provider).join(", ") : "",
    status: readiness(item),
  };
  if (text(item?.status?.capabilities) !== "") {
    row.capabilities = item.status.capabilities;
  }
  return row;
}

function byNamespaceAndName(a, b) {
  return a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

/** At most MAX_ROWS rows, with what was left out. */
function capped(rows) {
  return { shown: rows.slice(0, MAX_ROWS), omitted: Math.max(0, rows.length - MAX_ROWS) };
}

function onlyFailing(rows, wanted) {
  return wanted ? rows.filter((row) => row.status.ready !== "True") : rows;
}

const failingArgument = {
  type: "boolean",
  default: false,
  description: "Only those whose Ready condition is not True.",
};

// ---- list_external_secrets ----

const listExternalSecrets = {
  definition: {
    name: "list_external_secrets",
    title: "List ExternalSecrets",
    description:
      "Lists External Secrets Operator ExternalSecrets (in one namespace or all) with their sync status: the store each reads, the Secret it writes, when it last synced, and — when the Ready condition is not True — the reason and message ESO gives (e.g. SecretSyncedError with the provider's error). Never shows secret values. `failingOnly` keeps those that are not Ready.",
    input: object({
      target: targetArgument,
      namespace: namespaceArgument("Only this namespace; every namespace when omitted."),
      failingOnly: failingArgument,
    }),
    output: resultObject(
      {
        target: string,
        count: { type: "integer", description: "ExternalSecrets that matched." },
        failing: { type: "integer", description: "How many of them are not Ready." },
        omitted: { type: "integer", description: "Matches left out of `externalSecrets` to keep the answer short; narrow by namespace." },
        externalSecrets: { type: "array", items: externalSecretRow },
      },
      ["target", "count", "failing", "externalSecrets"],
    ),
    annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  },
  async call(args) {
    const client = new Client(args.target);
    const items = await client.list(EXTERNAL_SECRETS, args.namespace);
    const all = items.map(externalSecretSummary).sort(byNamespaceAndName);
    const failing = all.filter((row) => row.status.ready !== "True").length;
    const rows = onlyFailing(all, args.failingOnly === true);
    const { shown, omitted } = capped(rows);
    return { target: client.target, count: rows.length, failing, omitted, externalSecrets: shown };
  },
};

// ---- list_secret_stores ----

const listSecretStores = {
  definition: {
    name: "list_secret_stores",
    title: "List SecretStores and ClusterSecretStores",
    description:
      "Lists External Secrets Operator SecretStores (in one namespace or all) and ClusterSecretStores with their provider and readiness; when a store is not Ready, the reason and message ESO gives (e.g. InvalidProviderConfig, ValidationFailed with the provider's error). An ExternalSecret whose store is not Ready cannot sync. Never shows credentials.",
    input: object({
      target: targetArgument,
      namespace: namespaceArgument("Only SecretStores of this namespace (ClusterSecretStores are listed unless `kind` excludes them); every namespace when omitted."),
      kind: { type: "string", enum: ["SecretStore", "ClusterSecretStore"], description: "Only this kind; both when omitted." },
      failingOnly: failingArgument,
    }),
    output: resultObject(
      {
        target: string,
        count: { type: "integer" },
        failing: { type: "integer" },
        omitted: { type: "integer" },
        stores: { type: "array", items: storeRow },
      },
      ["target", "count", "failing", "stores"],
    ),
    annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  },
  async call(args) {
    const client = new Client(args.target);
    let all = [];
    if (args.kind !== "ClusterSecretStore") {
      const stores = await client.list(SECRET_STORES, args.namespace);
      all = all.concat(stores.map((item) => storeSummary("SecretStore", item)).sort(byNamespaceAndName));
    }
    if (args.kind !== "SecretStore") {
      const stores = await client.list(CLUSTER_SECRET_STORES);
      all = all.concat(stores.map((item) => storeSummary("ClusterSecretStore", item)).sort(byNamespaceAndName));
    }
    const failing = all.filter((row) => row.status.ready !== "True").length;
    const rows = onlyFailing(all, args.failingOnly === true);
    const { shown, omitted } = capped(rows);
    return { target: client.target, count: rows.length, failing, omitted, stores: shown };
  },
};

// ---- get_external_secret ----

/** When an event last happened: series, else lastTimestamp, else eventTime. */
function lastSeen(event) {
  return text(event?.series?.lastObservedTime) || text(event?.lastTimestamp) || text(event?.eventTime);
}

function eventSummary(event) {
  return {
    lastSeen: lastSeen(event),
    type: text(event?.type) || "Normal",
    reason: text(event?.reason),
    message: excerpt(text(event?.message), MAX_MESSAGE),
    count: Number.isInteger(event?.count) ? event.count : 1,
  };
}

/** What the ExternalSecret asks for: remote key names and options, never values. */
function wanted(item) {
  const spec = item?.spec ?? {};
  const data = (Array.isArray(spec.data) ? spec.data : []).map((entry) => {
    const row = { secretKey: text(entry?.secretKey), remoteKey: text(entry?.remoteRef?.key) };
    for (const field of ["property", "version"]) {
      if (text(entry?.remoteRef?.[field]) !== "") {
        row[field] = entry.remoteRef[field];
      }
    }
    return row;
  });
  const dataFrom = (Array.isArray(spec.dataFrom) ? spec.dataFrom : []).map((entry) => {
    if (entry?.extract) {
      return { extract: text(entry.extract.key) };
    }
    if (entry?.find) {
      return { find: text(entry.find.name?.regexp) || text(entry.find.path) || "(by tags)" };
    }
    return { generator: text(entry?.sourceRef?.generatorRef?.kind) || "(source)" };
  });
  const target = spec.target ?? {};
  const result = {
    data,
    dataFrom,
    creationPolicy: text(target.creationPolicy) || "Owner",
    deletionPolicy: text(target.deletionPolicy) || "Retain",
  };
  if (target.template && typeof target.template === "object") {
    result.templateKeys = Object.keys(target.template.data ?? {}).sort();
  }
  return result;
}

const getExternalSecret = {
  definition: {
    name: "get_external_secret",
    title: "Get an ExternalSecret",
    description:
      "Shows one External Secrets Operator ExternalSecret: its store and that store's readiness, the Secret it writes, the remote keys it reads (names only, never values), its sync status with ESO's reason and message when it fails, and its Kubernetes Events (newest last), where provider errors show up. Use it after `list_external_secrets` to find out why one does not sync.",
    input: object(
      {
        target: targetArgument,
        name: nameArgument,
        namespace: namespaceArgument("The ExternalSecret's namespace."),
      },
      ["name", "namespace"],
    ),
    output: resultObject(
      {
        target: string,
        externalSecret: externalSecretRow,
        store: resultObject(
          { kind: string, name: string, found: { type: "boolean" }, provider: string, status: readinessSchema, problem: string },
          ["kind", "name", "found"],
        ),
        wants: {
          type: "object",
          properties: {
            data: {
              type: "array",
              items: resultObject({ secretKey: string, remoteKey: string, property: string, version: string }, ["secretKey", "remoteKey"]),
            },
            dataFrom: { type: "array", items: { type: "object" } },
            creationPolicy: string,
            deletionPolicy: string,
            templateKeys: { type: "array", items: string },
          },
          required: ["data", "dataFrom"],
        },
        conditions: {
          type: "array",
          items: resultObject({ type: string, status: string, reason: string, message: string, since: string }, ["type", "status"]),
        },
        forceSync: { type: "string", description: "The current `force-sync` annotation, when set." },
        events: { type: "array", items: eventRow },
        eventsOmitted: { type: "integer" },
      },
      ["target", "externalSecret", "store", "wants", "conditions", "events"],
    ),
    annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  },
  async call(args) {
    const client = new Client(args.target);
    const item = await client.get(EXTERNAL_SECRETS, args.namespace, args.name);
    const ref = storeRef(item);
    const store = { kind: ref.kind, name: ref.name, found: false };
    try {
      const resource = ref.kind === "ClusterSecretStore" ? CLUSTER_SECRET_STORES : SECRET_STORES;
      const found = await client.get(resource, args.namespace, ref.name);
      const summary = storeSummary(ref.kind, found);
      Object.assign(store, { found: true, provider: summary.provider, status: summary.status });
    } catch (error) {
      if (!(error instanceof ToolError)) {
        throw error;
      }
      store.problem = error.message;
    }
    const fieldSelector = `involvedObject.kind=ExternalSecret,involvedObject.name=${args.name}`;
    const events = (await client.list(EVENTS, args.namespace, { fieldSelector }))
      .map(eventSummary)
      .sort((a, b) => a.lastSeen.localeCompare(b.lastSeen));
    const skip = Math.max(0, events.length - MAX_EVENTS);
    const conditions = (Array.isArray(item?.status?.conditions) ? item.status.conditions : []).map((condition) => {
      const row = { type: text(condition?.type), status: text(condition?.status) };
      for (const [key, value] of [
        ["reason", condition?.reason],
        ["message", condition?.message],
        ["since", condition?.lastTransitionTime],
      ]) {
        if (text(value) !== "") {
          row[key] = key === "message" ? excerpt(value, MAX_MESSAGE) : value;
        }
      }
      return row;
    });
    const result = {
      target: client.target,
      externalSecret: externalSecretSummary(item),
      store,
      wants: wanted(item),
      conditions,
      events: events.slice(skip),
    };
    const forceSync = item?.metadata?.annotations?.[FORCE_SYNC];
    if (text(forceSync) !== "") {
      result.forceSync = forceSync;
    }
    if (skip > 0) {
      result.eventsOmitted = skip;
    }
    return result;
  },
};

// ---- refresh_external_secret ----

const refreshExternalSecret = {
  definition: {
    name: "refresh_external_secret",
    title: "Refresh an ExternalSecret",
    description:
      "Asks the External Secrets Operator to sync one ExternalSecret now, like `kubectl annotate es NAME force-sync=$(date +%s) --overwrite`: sets the `force-sync` annotation to the current Unix time. ESO then fetches the remote values again and rewrites the target Secret. Has no effect once synced with `refreshPolicy: CreatedOnce` or a zero `refreshInterval`. Check the outcome with `get_external_secret` (its lastRefresh and status).",
    input: object(
      {
        target: targetArgument,
        name: nameArgument,
        namespace: namespaceArgument("The ExternalSecret's namespace."),
      },
      ["name", "namespace"],
    ),
    output: resultObject(
      {
        target: string,
        name: string,
        namespace: string,
        forceSync: { type: "string", description: "The value the annotation now has (Unix seconds)." },
        previousRefresh: { type: "string", description: "status.refreshTime before the request: a later value means ESO synced again." },
        note: string,
      },
      ["target", "name", "namespace", "forceSync"],
    ),
    annotations: { readOnly: false, destructive: false, idempotent: false, openWorld: false },
  },
  async call(args) {
    const client = new Client(args.target);
    const stamp = String(Math.floor(Date.now() / 1000));
    const patch = { metadata: { annotations: { [FORCE_SYNC]: stamp } } };
    const item = await client.mergePatch(EXTERNAL_SECRETS, args.namespace, args.name, patch);
    const result = {
      target: client.target,
      name: text(item?.metadata?.name) || args.name,
      namespace: text(item?.metadata?.namespace) || args.namespace,
      forceSync: text(item?.metadata?.annotations?.[FORCE_SYNC]) || stamp,
    };
    if (text(item?.status?.refreshTime) !== "") {
      result.previousRefresh = item.status.refreshTime;
    }
    if (item?.spec?.refreshPolicy === "CreatedOnce") {
      result.note = "its refreshPolicy is CreatedOnce: once synced, ESO does not sync it again, annotation or not";
    } else if (item?.spec?.refreshPolicy !== "OnChange" && /^0+[smh]?$/.test(text(item?.spec?.refreshInterval))) {
      result.note = "its refreshInterval is 0: once synced, ESO does not sync it again, annotation or not";
    }
    return result;
  },
};

/** Every tool, in the order they are listed. */
export const TOOLS = [listExternalSecrets, listSecretStores, getExternalSecret, refreshExternalSecret];
