// The Kubernetes API calls of the ESO plugin, over the instance's targets.
//
// A target is one of the instance's `[[targets]]`; the host tells the plugin their names and
// URLs through wasi:config (`capstan.targets`, `capstan.target.<name>.url`) and adds the
// credentials to every request itself, so this plugin never sees a token. Requests go out with
// the ordinary `fetch`, which componentize-js implements over wasi:http.
//
// This module never asks for core/v1 Secrets (and a Kubernetes target refuses them unless the
// manifest says `allow_secrets`): nothing here can read a secret value.

import { get as configGet } from "wasi:config/store@0.2.0-rc.1";

/** A failure the agent should read: the message says what went wrong and what to do. */
export class ToolError extends Error {}

/** The ExternalSecrets API group and the version the plugin reads (v1; v1beta1 is no longer served). */
export const GROUP = "external-secrets.io";
export const VERSION = "v1";

/** The resources the plugin addresses, as the API names them. */
export const EXTERNAL_SECRETS = { group: GROUP, version: VERSION, plural: "externalsecrets", kind: "ExternalSecret", namespaced: true };
export const SECRET_STORES = { group: GROUP, version: VERSION, plural: "secretstores", kind: "SecretStore", namespaced: true };
export const CLUSTER_SECRET_STORES = { group: GROUP, version: VERSION, plural: "clustersecretstores", kind: "ClusterSecretStore", namespaced: false };
export const EVENTS = { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true };

/** Text the API sent back, cut to a length an agent can read. */
export function excerpt(text, limit = 300) {
  const value = String(text ?? "");
  return value.length > limit ? `${value.slice(0, limit)}…` : value;
}

function setting(key) {
  try {
    return configGet(key) ?? undefined;
  } catch {
    return undefined;
  }
}

function targetNames() {
  return (setting("capstan.targets") ?? "").split(",").filter((name) => name !== "");
}

function listOrNone(names) {
  return names.length === 0 ? "none" : names.join(", ");
}

/** The target a call addresses — `name` when given, else `default_target`, else the only one. */
function resolveTarget(name) {
  let chosen = name;
  if (chosen === undefined) {
    chosen = setting("default_target");
  }
  if (chosen === undefined) {
    const names = targetNames();
    if (names.length === 1) {
      chosen = names[0];
    } else if (names.length === 0) {
      throw new ToolError("this instance has no targets; add a [[targets]] entry to its manifest");
    } else {
      throw new ToolError(`this instance has several targets (${names.join(", ")}); pass \`target\` to choose one`);
    }
  }
  const url = setting(`capstan.target.${chosen}.url`);
  if (url === undefined) {
    throw new ToolError(`no target named \`${chosen}\`; this instance has: ${listOrNone(targetNames())}`);
  }
  return { name: chosen, base: url.replace(/\/+$/, "") };
}

/** `Kind ns/name`, `Kind name` or `Kinds in ns`, for messages. */
function describe(resource, namespace, name) {
  if (name !== undefined) {
    return namespace !== undefined ? `${resource.kind} ${namespace}/${name}` : `${resource.kind} ${name}`;
  }
  return namespace !== undefined ? `${resource.kind}s in namespace ${namespace}` : `${resource.kind}s`;
}

/** A connection to one Kubernetes API target of this instance. */
export class Client {
  constructor(target) {
    const { name, base } = resolveTarget(target);
    this.target = name;
    this.base = base;
  }

  url(resource, namespace, name, query) {
    let path = resource.group === "" ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
    if (resource.namespaced && namespace !== undefined) {
      path += `/namespaces/${encodeURIComponent(namespace)}`;
    }
    path += `/${resource.plural}`;
    if (name !== undefined) {
      if (name === "." || name === "..") {
        throw new ToolError(`\`${name}\` is not a valid ${resource.kind} name; pass the object's metadata.name as the list tools show it`);
      }
      path += `/${encodeURIComponent(name)}`;
    }
    const search = new URLSearchParams(query ?? {}).toString();
    return `${this.base}${path}${search === "" ? "" : `?${search}`}`;
  }

  /** Lists `resource` (every namespace when `namespace` is undefined). */
  async list(resource, namespace, query) {
    const body = await this.send("GET", "list", resource, namespace, undefined, query);
    return Array.isArray(body.items) ? body.items : [];
  }

  /** Reads one object. */
  async get(resource, namespace, name) {
    return this.send("GET", "get", resource, namespace, name);
  }

  /** Merge-patches (RFC 7386) one object. */
  async mergePatch(resource, namespace, name, patch) {
    return this.send("PATCH", "patch", resource, namespace, name, undefined, {
      body: JSON.stringify(patch),
      contentType: "application/merge-patch+json",
    });
  }

  async send(method, verb, resource, namespace, name, query, payload) {
    const url = this.url(resource, namespace, name, query);
    const object = describe(resource, namespace, name);
    const headers = { accept: "application/json" };
    if (payload !== undefined) {
      headers["content-type"] = payload.contentType;
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body: payload?.body });
    } catch (error) {
      throw new ToolError(
        `could not reach the Kubernetes API (target \`${this.target}\`) to ${verb} ${object}: ${excerpt(error?.message ?? error)}; if capstan refused the request, the target's rules in the manifest do not allow it`,
      );
    }
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.ok) {
      if (body === undefined || typeof body !== "object") {
        throw new ToolError(`the Kubernetes API (target \`${this.target}\`) answered ${verb} ${object} with something that is not a JSON object`);
      }
      return body;
    }
    throw new ToolError(this.failure(response.status, body, text, verb, resource, namespace, name, object));
  }

  failure(status, body, text, verb, resource, namespace, name, object) {
    const apiMessage = typeof body?.message === "string" ? body.message : excerpt(text.trim());
    const pathMissing = status === 404 && !(typeof body?.details?.name === "string" && body.details.name !== "");
    let hint = "";
    if (status === 401) {
      hint = `check the \`auth\` of target \`${this.target}\` in the capstan manifest`;
    } else if (status === 403) {
      const scope = namespace !== undefined ? `in namespace \`${namespace}\`` : "cluster-wide";
      hint = `the credentials of target \`${this.target}\` need RBAC verb \`${verb}\` on resource \`${resource.plural}\` in API group \`${resource.group}\` ${scope}; ask the cluster admin to grant it`;
    } else if (status === 404 && !pathMissing) {
      hint = `${object} does not exist; check the name and namespace, or list them first`;
    } else if (status === 404) {
      hint = `the ${resource.plural}.${resource.group} CRD (version ${resource.version}) is not installed on target \`${this.target}\`: is the External Secrets Operator installed there?`;
    } else if (status === 409) {
      hint = `${object} changed while this call was updating it; call the tool again`;
    } else if (status === 422) {
      hint = "the API refused the change as invalid: the message names the field and the rule it breaks";
    }
    return `the Kubernetes API (target \`${this.target}\`) answered HTTP ${status} to ${verb} ${object}: ${excerpt(apiMessage)}${hint === "" ? "" : ` — ${hint}`}`;
  }
}
