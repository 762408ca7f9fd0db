// capstan plugin for the External Secrets Operator (ESO), in JavaScript: componentized with
// componentize-js against `wit/plugin.wit` (world `capstan:plugin/plugin`). See README.md.
//
// Every call runs in a fresh instance; nothing is kept between calls.

import { log } from "capstan:plugin/host@0.2.0";
import { ToolError } from "./kube.js";
import { TOOLS } from "./tools.js";

function definition(tool) {
  const { name, title, description, input, output, annotations } = tool.definition;
  return {
    name,
    title,
    description,
    inputSchema: JSON.stringify(input),
    outputSchema: JSON.stringify(output),
    annotations,
    taskSupport: "forbidden",
  };
}

function failed(message) {
  return { tag: "complete", val: { content: [{ tag: "text", val: message }], structured: undefined, isError: true } };
}

export const tools = {
  listTools() {
    return TOOLS.map(definition);
  },

  async callTool(name, argumentsText, _round) {
    const tool = TOOLS.find((candidate) => candidate.definition.name === name);
    if (tool === undefined) {
      return failed(`no tool named \`${name}\`; this plugin has: ${TOOLS.map((t) => t.definition.name).join(", ")}`);
    }
    let args;
    try {
      args = JSON.parse(argumentsText);
    } catch {
      return failed("the arguments are not a JSON object");
    }
    try {
      const structured = await tool.call(args ?? {});
      return { tag: "complete", val: { content: [], structured: JSON.stringify(structured), isError: false } };
    } catch (error) {
      if (error instanceof ToolError) {
        return failed(error.message);
      }
      // A bug in the plugin: say so without any response body.
      log("error", `${name} failed unexpectedly: ${String(error?.message ?? error).slice(0, 200)}`);
      return failed(`${name} failed unexpectedly inside the plugin (${String(error?.message ?? error).slice(0, 200)}); this is a bug in the ESO plugin`);
    }
  },
};

export const prompts = {
  listPrompts() {
    return [];
  },
  getPrompt(name) {
    throw `this plugin has no prompts (asked for \`${name}\`)`;
  },
};

export const resources = {
  listResources() {
    return [];
  },
  listResourceTemplates() {
    return [];
  },
  readResource(uri) {
    throw { tag: "not-found", val: `this plugin serves no resources (asked for \`${uri}\`)` };
  },
};

export const completions = {
  complete() {
    return [];
  },
};

export const skills = {
  listSkills() {
    return [];
  },
};
