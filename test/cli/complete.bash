# bash --norc --noprofile complete.bash SCRIPT LINE WORD...
# Loads SCRIPT and runs its completion function as bash does for a TAB at the end of LINE,
# split into the WORDs of COMP_WORDS; prints what it offers (COMPREPLY), one a line.
source "$1"
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
shift 2
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
_sockit sockit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
