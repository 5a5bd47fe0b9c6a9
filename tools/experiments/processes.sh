# Sourced by the experiment scripts: the diffusion overrides of each process
# name they take (vpsde, cld, alda, malda, learned_2, learned_3).
diffusion_of() {
  case "$1" in
    vpsde) echo "--set=diffusion.sde_type=VPSDE --set=diffusion.n_vars=1" ;;
    cld) echo "--set=diffusion.sde_type=CLD --set=diffusion.n_vars=2" ;;
    alda) echo "--set=diffusion.sde_type=ALDA --set=diffusion.n_vars=3" ;;
    malda) echo "--set=diffusion.sde_type=MALDA --set=diffusion.n_vars=3" ;;
    learned_2) echo "--set=diffusion.sde_type=LEARNED --set=diffusion.n_vars=2" ;;
    learned_3) echo "--set=diffusion.sde_type=LEARNED --set=diffusion.n_vars=3" ;;
    *) echo "unknown process $1" >&2; return 1 ;;
  esac
}
