import { NotFoundError, UnprocessableError, formatProblem, type Origin } from '../errors.js';
import { mergeLayers, type Layer } from './merge.js';
import type { DefinitionFile, Snapshot } from './snapshot.js';
import type { Origins, Values } from './source.js';

export interface BuildRequest {
  type: string;
  name: string;
  /** `<Name>-<version>` from the request; a build's own `os` is used when absent. */
  os?: string;
}

export interface ResolvedBuild {
  /** The build actually used: the type falls back to the defaults' hardware when unknown. */
  build: { type: string; name: string; id: string };
  /** The layering comments the PHP original printed at the top of the kickstart. */
  comments: string[];
  /** Merged definition values plus os_name, os_version, hostname and domain. */
  vars: Values;
  packerSite: Values;
  packerOs: Values;
  /** Dotted key to origin; packer values are keyed `packer_site.<key>` and `packer_os.<key>`. */
  origins: Origins;
  /** Definition files that took part, most general first. */
  files: string[];
}

/**
 * Layers the definitions for one build exactly as ks.php did:
 * builds/defaults -> builds/<type>/defaults -> builds/<type>/<build> -> os= and fqdn,
 * plus Packer's site and OS variable files. Throws NotFoundError for an unknown
 * build of a strict type, UnprocessableError when a needed file never validated.
 */
export function resolveBuild(snapshot: Snapshot, request: BuildRequest): ResolvedBuild {
  const comments: string[] = [];
  const layers: Layer[] = [];
  const files: string[] = [];
  const use = (definition: DefinitionFile): void => {
    layers.push(goodVersionOf(definition));
    files.push(definition.file);
  };

  const defaults = snapshot.get('defaults');
  if (!defaults) throw new UnprocessableError('builds/defaults.yaml not found: every build starts from it');
  use(defaults);

  let type = request.type;
  let typeDefaults = snapshot.get(`${type}/defaults`);
  if (!typeDefaults) {
    const hardware = String(mergeLayers(layers).values.hardware ?? '');
    comments.push(`# Build type '${type}' not found... using ${hardware} defaults`);
    type = hardware;
    typeDefaults = snapshot.get(`${type}/defaults`);
  }
  if (typeDefaults) use(typeDefaults);
  const strict = mergeLayers(layers).values.strict === true;

  const buildFile = snapshot.get(`${type}/${request.name}`);
  if (buildFile) use(buildFile);
  else if (strict) {
    throw new NotFoundError(`unknown build '${type}/${request.name}': no builds/${type}/${request.name}.yaml, and ${type} builds are strict`);
  } else comments.push(`# Build '${request.name}' not found... continuing with defaults`);

  const merged = mergeLayers(layers);
  const vars: Values = { ...merged.values };
  const origins: Origins = new Map(merged.origins);

  const os = request.os ?? (typeof vars.os === 'string' ? vars.os : undefined);
  if (os !== undefined) {
    const osOrigin: Origin = request.os !== undefined ? { file: `request os=${os}`, line: 0 } : origins.get('os')!;
    const hyphen = os.indexOf('-');
    setDerived(vars, origins, 'os_name', os.slice(0, hyphen), osOrigin);
    setDerived(vars, origins, 'os_version', os.slice(hyphen + 1), osOrigin);
  }
  const fqdn = typeof vars.fqdn === 'string' ? vars.fqdn : '';
  const fqdnOrigin = origins.get('fqdn') ?? { file: 'no fqdn set', line: 0 };
  const dot = fqdn.indexOf('.');
  setDerived(vars, origins, 'hostname', dot === -1 ? fqdn : fqdn.slice(0, dot), fqdnOrigin);
  setDerived(vars, origins, 'domain', dot === -1 ? '' : fqdn.slice(dot + 1), fqdnOrigin);

  const packerSite = packerLayer(snapshot.get('packer/site'), 'builds/packer/site.json', 'site', comments, origins, 'packer_site', files);
  const packerOs =
    os === undefined
      ? (comments.push('# No OS given (os=<Name>-<version>)... continuing without OS variables'), {})
      : packerLayer(snapshot.get(`packer/os/${os}`), `builds/packer/os/${os}.json`, 'OS', comments, origins, 'packer_os', files);

  return { build: { type, name: request.name, id: `${type}/${request.name}` }, comments, vars, packerSite, packerOs, origins, files };
}

function packerLayer(definition: DefinitionFile | undefined, expectedPath: string, what: string, comments: string[], origins: Origins, prefix: string, files: string[]): Values {
  if (!definition) {
    comments.push(`# Packer template '${expectedPath}' not found... continuing without ${what} variables`);
    return {};
  }
  const layer = goodVersionOf(definition);
  files.push(definition.file);
  for (const [key, origin] of layer.origins) origins.set(`${prefix}.${key}`, origin);
  return layer.values;
}

function goodVersionOf(definition: DefinitionFile): Layer {
  if (definition.good) return definition.good;
  throw new UnprocessableError(
    `${definition.problems.map(formatProblem).join('; ')} (no valid version of ${definition.file} has been loaded; fix the file)`,
    definition.problems,
  );
}

function setDerived(vars: Values, origins: Origins, key: string, value: string, origin: Origin): void {
  vars[key] = value;
  origins.set(key, origin);
}
