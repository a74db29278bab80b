/**
 * The fish completion script, written out from the command tree: `complete` lines guarded by
 * one function that finds the command typed so far, so a TAB runs no node.
 */
import type { CommandNode, Completion, OptionNode } from './command-tree.js';
import { flatten } from './command-tree.js';

/**
 * The script for `sockit completion fish`.
 *
 * @example
 * ```ts
 * process.stdout.write(fishScript(commandTree(program())));
 * ```
 */
export function fishScript(tree: CommandNode): string {
  const name = tree.name;
  const fn = `__${name.replace(/\W/g, '_')}_at`;
  const nodes = flatten(tree);
  const descend = nodes.flatMap((node) => node.commands.map((c) => quote(key(node, c.name))));
  const valued = nodes.flatMap((node) =>
    node.options.filter((o) => o.value).flatMap((o) => flags(o).map((flag) => quote(key(node, flag)))),
  );
  const complete = (node: CommandNode, place: string, rest: string) =>
    `complete -c ${name} -n ${quote(`${fn} ${quote(node.path.join(' '))}${place}`)} ${rest}`;
  const lines = nodes.flatMap((node) => [
    ...node.commands.map((c) => complete(node, ' 0', `-a ${c.name} -d ${quote(c.description)}`)),
    ...node.options.map((o) => complete(node, '', `${optionFlags(o)} -d ${quote(o.description)}`)),
    ...(node.commands.length > 0
      ? []
      : node.arguments.flatMap((a, i) => {
          const rest = argumentValues(a.completion);
          return rest ? [complete(node, ` ${i}${a.variadic ? ' more' : ''}`, rest)] : [];
        })),
  ]);
  return `# fish completion for ${name}: its commands, options and option values.
# Written by \`${name} completion fish\` from ${name}'s own command definitions; write it again
# after an upgrade. Install it for your user:
#   ${name} completion fish > ~/.config/fish/completions/${name}.fish

# ${fn} PATH [N [more]]: true when the words before the cursor are \`${name} PATH\` (options and
# their values aside) followed, with N, by N arguments (with more: at least N).
function ${fn} --argument-names want index more
    set -l words (commandline -opc)
    set -e words[1]
    set -l path ''
    set -l n 0
    set -l skip 0
    for word in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch "$path|$word"
            case ${orNever(descend)}
                set path (string trim -- "$path $word")
                set n 0
            case ${orNever(valued)}
                set skip 1
            case '*|-?*'
            case '*'
                set n (math $n + 1)
        end
    end
    test "$path" = "$want"; or return 1
    test -z "$index"; and return 0
    test $n -eq $index; and return 0
    test -n "$more"; and test $n -gt $index
end

complete -c ${name} -f
${lines.join('\n')}
`;
}

function key(node: CommandNode, word: string): string {
  return `${node.path.join(' ')}|${word}`;
}

function flags(option: OptionNode): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined);
}

function optionFlags(option: OptionNode): string {
  const names = [
    ...(option.short === undefined ? [] : [`-s ${option.short.slice(1)}`]),
    ...(option.long === undefined ? [] : [`-l ${option.long.slice(2)}`]),
  ].join(' ');
  return option.value ? `${names} ${values(option.value.completion)}` : names;
}

/** Case patterns; one that matches nothing (every word holds a |) when there are none. */
function orNever(patterns: string[]): string {
  return patterns.length > 0 ? patterns.join(' ') : "''";
}

/** An option's value: -r, it is required; -x, and no file names; -F, file names. */
function values(completion: Completion): string {
  switch (completion.kind) {
    case 'words':
      return `-x -a ${quote(completion.words.join(' '))}`;
    case 'file':
      return '-r -F';
    case 'dir':
      return `-x -a ${quote('(__fish_complete_directories (commandline -ct))')}`;
    case 'none':
      return '-x';
  }
}

/** A positional argument's values, or undefined when there is nothing to offer. */
function argumentValues(completion: Completion): string | undefined {
  switch (completion.kind) {
    case 'file':
      return '-F';
    case 'none':
      return undefined;
    default:
      // Words and folders as for an option's value, without its -x (there is no option).
      return values(completion).replace(/^-x /, '');
  }
}

function quote(text: string): string {
  return `'${text.replace(/[\\']/g, '\\$&')}'`;
}
