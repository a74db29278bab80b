/**
 * The `sockit` command tree as commander builds it, read as plain data: what the shell
 * completion scripts and the man page are generated from, so that a command or an option
 * added later appears in both without editing a list.
 */
import type { Argument, Command, Option } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';

/** What a value (of an option or a positional argument) completes to. */
export type Completion =
  | { kind: 'words'; words: string[] }
  | { kind: 'file' }
  | { kind: 'dir' }
  | { kind: 'none' };

export interface OptionNode {
  short?: string;
  long?: string;
  description: string;
  /** Undefined for a flag; the value's name and what it completes to otherwise. */
  value?: { name: string; completion: Completion };
}

export interface ArgumentNode {
  name: string;
  required: boolean;
  variadic: boolean;
  completion: Completion;
}

export interface CommandNode {
  /** Its own name: `sockit` for the root. */
  name: string;
  /** The names after the root's: [] for the root, ['files', 'upload'] for `sockit files upload`. */
  path: string[];
  description: string;
  /** Its own options (help included), then those of its ancestors, which commander accepts anywhere. */
  options: OptionNode[];
  arguments: ArgumentNode[];
  /** Its visible subcommands, commander's implicit `help` included. */
  commands: CommandNode[];
}

/**
 * Every command under `root`, depth first, with its names after the root's.
 *
 * @example
 * ```ts
 * eachCommand(program()).map((c) => c.path.join(' ')); // ['serve', 'echo', 'echo serve', ...]
 * ```
 */
export function eachCommand(root: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return root.commands.flatMap((sub) => {
    const here = [...path, sub.name()];
    return [{ path: here, command: sub }, ...eachCommand(sub, here)];
  });
}

/** The root of the tree `command` belongs to. */
export function rootOf(command: Command): Command {
  let root = command;
  while (root.parent) root = root.parent;
  return root;
}

/**
 * The tree under `root` as data for completion.
 *
 * @example
 * ```ts
 * commandTree(program()).commands.map((c) => c.path[0]); // ['serve', 'echo', ..., 'help']
 * ```
 */
export function commandTree(root: Command): CommandNode {
  return node(root, [], []);
}

/** Every node of the tree, the root first, depth first. */
export function flatten(tree: CommandNode): CommandNode[] {
  return [tree, ...tree.commands.flatMap(flatten)];
}

function node(command: Command, path: string[], ancestors: Command[]): CommandNode {
  const help = command.createHelp();
  const own = help.visibleOptions(command);
  const inherited = ancestors.flatMap((a) => a.options.filter((o) => !o.hidden));
  const options: Option[] = [];
  for (const option of [...own, ...inherited]) {
    const taken = options.some((o) => flagsOf(o).some((flag) => flagsOf(option).includes(flag)));
    if (!taken) options.push(option);
  }
  const below = [command, ...ancestors];
  const visible = help.visibleCommands(command);
  // The one visible command not in `commands` is commander's `help [command]`: it names a sibling.
  const siblings = command.commands.filter((c) => visible.includes(c)).map((c) => c.name());
  const commands = visible.map((sub) => {
    const child = node(sub, [...path, checked(sub.name())], below);
    if (command.commands.includes(sub)) return child;
    return {
      ...child,
      arguments: child.arguments.map((a) => ({
        ...a,
        completion: { kind: 'words' as const, words: siblings },
      })),
    };
  });
  return {
    name: command.name(),
    path,
    description: firstLine(command.summary() || command.description()),
    options: options.map(optionNode),
    arguments: command.registeredArguments.map(argumentNode),
    commands,
  };
}

function flagsOf(option: Option): string[] {
  return [option.short, option.long].filter((flag): flag is string => flag !== undefined);
}

function optionNode(option: Option): OptionNode {
  const value = /[<[]([^>\]]*)[>\]]/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, '');
  return {
    ...(option.short === undefined ? {} : { short: checked(option.short) }),
    ...(option.long === undefined ? {} : { long: checked(option.long) }),
    description: firstLine(option.description),
    ...(value === undefined || !(option.required || option.optional)
      ? {}
      : { value: { name: value, completion: completionOf(value, option.argChoices, option.description) } }),
  };
}

function argumentNode(argument: Argument): ArgumentNode {
  const name = argument.name();
  return {
    name,
    required: argument.required,
    variadic: argument.variadic,
    completion: completionOf(name, argument.argChoices, argument.description),
  };
}

/**
 * Choices complete to themselves; otherwise the value's name says: `local` and `file` to
 * files, `dir` to folders, anything else (a host, a port, a `remote` path) to nothing; as
 * does a value its description calls remote (`--to <dir>`: a folder on the server).
 */
function completionOf(name: string, choices: readonly string[] | undefined, description: string): Completion {
  if (choices) return { kind: 'words', words: choices.map(checked) };
  if (/remote/i.test(name)) return { kind: 'none' };
  if (/local/i.test(name)) return { kind: 'file' };
  if (/\bremote\b/i.test(description)) return { kind: 'none' };
  if (/dir/i.test(name)) return { kind: 'dir' };
  if (/file/i.test(name)) return { kind: 'file' };
  return { kind: 'none' };
}

/**
 * A name or choice as the generated scripts write it unquoted into word lists and patterns:
 * anything else is refused when the script is made, not found broken at the user's TAB.
 */
function checked(word: string): string {
  if (!/^[\w.@%+,/-]+$/.test(word)) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `${JSON.stringify(word)} cannot be completed by a shell script; use letters, digits and . _ - @ % + , /`,
    );
  }
  return word;
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? '';
}
