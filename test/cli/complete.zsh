# zsh -f complete.zsh SCRIPT OUT LINE
# Types LINE and a TAB into an interactive zsh (in a pseudo-terminal, as zsh completes only
# there) that has compinit (its dump kept beside OUT) and SCRIPT loaded, and appends to OUT
# every match the completion functions add, one a line, then --done-- once they have finished.
zmodload zsh/zpty || exit 3
local script=$1 out=$2 line=$3 junk
zpty complete zsh -f -i
zpty -w complete "PS1= RPS1=; autoload -Uz compinit && compinit -u -d ${(q)out:h}/zcompdump && source ${(q)script}"
# compadd with -O, -A or -D only computes; the others add the matches that are offered.
zpty -w complete "compadd() {
  local -a got
  [[ \${(j: :)@} == *-[OAD]* ]] || { builtin compadd -O got \"\$@\"; print -rl -- \$got >> ${(q)out}; }
  builtin compadd \"\$@\"
}"
zpty -w complete "completed() { print -r -- --done-- >> ${(q)out}; }; comppostfuncs=(completed)"
zpty -w -n complete "$line"$'\t'
repeat 400; do
  [[ -f $out ]] && grep -q -- --done-- $out && break
  zpty -r -t complete junk
  sleep 0.05
done
zpty -d complete
