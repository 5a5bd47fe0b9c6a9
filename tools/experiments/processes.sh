# Sourced by the experiment scripts: the overrides of each variant name
# they take. A name is a process (vpsde, cld, alda, malda, learned_2,
# learned_3), optionally with _bins<N> for Q(t), D(t) over N time bins
# (learned only) and +adaptive for the adaptive time proposal: e.g.
# learned_3_bins4+adaptive.
diffusion_of() {
  local name=$1 proposal=""
  if [[ $name == *+adaptive ]]; then
    name=${name%+adaptive}
    proposal=" --set=objective.time_proposal=ADAPTIVE"
  fi
  local bins=""
  if [[ $name =~ ^(learned_[0-9]+)_bins([0-9]+)$ ]]; then
    name=${BASH_REMATCH[1]}
    bins=" --set=diffusion.time_bins=${BASH_REMATCH[2]}"
  fi
  local process
  case "$name" in
    vpsde) process="--set=diffusion.sde_type=VPSDE --set=diffusion.n_vars=1" ;;
    cld) process="--set=diffusion.sde_type=CLD --set=diffusion.n_vars=2" ;;
    alda) process="--set=diffusion.sde_type=ALDA --set=diffusion.n_vars=3" ;;
    malda) process="--set=diffusion.sde_type=MALDA --set=diffusion.n_vars=3" ;;
    learned_2) process="--set=diffusion.sde_type=LEARNED --set=diffusion.n_vars=2" ;;
    learned_3) process="--set=diffusion.sde_type=LEARNED --set=diffusion.n_vars=3" ;;
    *) echo "unknown process $1" >&2; return 1 ;;
  esac
  echo "$process$bins$proposal"
}
