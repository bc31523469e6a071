#!/usr/bin/env bash
# Rebuild Schedules/clean2d/ (beside this script) with RELION 3.1's own tools: relion_pipeliner
# writes the three job.star files (every option at RELION's default unless set below), and
# relion_scheduler adds the variables, operators, jobs and edges, exactly as the GUI's scheduling
# mode (`relion --schedule clean2d`) would. Needs relion_pipeliner and relion_scheduler (3.1).
#
#   bash schedules/relion31_clean2d/build_schedule.sh [OUTPUT_DIR]
#
# OUTPUT_DIR defaults to schedules/relion31_clean2d/Schedules/clean2d (the shipped copy).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/Schedules/clean2d}
work=$(mktemp -d "${TMPDIR:-/tmp}/build_clean2d.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. Job templates. Values starting with $$ are replaced by the Schedule's variables when a job runs.
mkdir -p "$work/templates"
(
    cd "$work/templates"
    printf 'data_pipeline_general\n\n_rlnPipeLineJobCounter                       1\n' > default_pipeline.star
    relion_pipeliner --addJob Class2D --addJobOptions 'fn_img == $$current_particles;nr_classes == $$class2d_classes;nr_iter == $$class2d_iter;particle_diameter == $$particle_diameter;nr_mpi == 1;nr_threads == $$threads;' >/dev/null
    relion_pipeliner --addJob External --addJobOptions 'fn_exe == $$cryodiscovery_exe;in_part == $$class2d_data;nr_threads == $$threads;' >/dev/null
    relion_pipeliner --addJob InitialModel --addJobOptions 'fn_img == $$current_particles;nr_classes == 1;sym_name == $$symmetry;particle_diameter == $$particle_diameter;nr_mpi == 1;nr_threads == $$threads;' >/dev/null
)

# 2. The Schedule. relion_scheduler works on Schedules/<name>/ below the current directory and reads
#    a job to add from "<job name>job.star" there.
cd "$work"
cp templates/Class2D/job001/job.star class2djob.star
cp templates/External/job002/job.star cryodiscoveryjob.star
cp templates/InitialModel/job003/job.star inimodeljob.star
s() { relion_scheduler --schedule clean2d "$@" >/dev/null; }

# Variables the user sets (value and reset value; see README.md).
s --add variable --name current_particles --value CHANGE_ME/particles.star
s --add variable --name particle_diameter --value 200
s --add variable --name class2d_classes --value 50
s --add variable --name class2d_iter --value 25
s --add variable --name threads --value 4
s --add variable --name symmetry --value C1
s --add variable --name cryodiscovery_exe --value cryodiscovery_select
# The stop rule: stop when a round rejects under min_reject_fraction of its input particles, or
# after max_rounds rounds (threshold chosen from the measurements in docs/schedules.md).
s --add variable --name min_reject_fraction --value 0.05
s --add variable --name max_rounds --value 4
# Working variables (reset to these values by relion_scheduler --reset).
s --add variable --name round --value 0
# float=plus needs a variable as its 2nd input: RELION 3.1.3 checks that a literal number is valid,
# but then adds 0 (SchedulerOperator::performOperation reads input2 only from a float variable).
s --add variable --name round_step --value 1
s --add variable --name n_input --value 0
s --add variable --name n_kept --value 0
s --add variable --name n_rejected --value 0
s --add variable --name reject_fraction --value 0
s --add variable --name n_data_files --value 0
s --add variable --name class2d_data_pattern --value 'Schedules/clean2d/class2d/run_it*_data.star'
s --add variable --name class2d_data_files --value none
s --add variable --name class2d_data --value none
s --add variable --name selected_particles --value Schedules/clean2d/cryodiscovery/particles.star
s --add variable --name converged --value False
s --add variable --name max_reached --value False
s --add variable --name stop_cleaning --value False

# Operators. Paths under Schedules/clean2d/<job>/ are replaced by the job's current directory
# (e.g. Class2D/job012/) when an operator runs.
s --add operator --type string=glob --i class2d_data_pattern --o class2d_data_files
s --add operator --type float=count_words --i class2d_data_files --o n_data_files
s --add operator --type string=nth_word --i class2d_data_files --i2 n_data_files --o class2d_data
s --add operator --type float=count_images --i class2d_data --o n_input
s --add operator --type float=count_images --i selected_particles --o n_kept
s --add operator --type float=minus --i n_input --i2 n_kept --o n_rejected
s --add operator --type float=divide --i n_rejected --i2 n_input --o reject_fraction
s --add operator --type float=plus --i round --i2 round_step --o round
s --add operator --type string=glob --i selected_particles --o current_particles
s --add operator --type bool=lt --i reject_fraction --i2 min_reject_fraction --o converged
s --add operator --type bool=ge --i round --i2 max_rounds --o max_reached
s --add operator --type bool=or --i converged --i2 max_reached --o stop_cleaning
s --add operator --type exit

# Jobs: a new RELION job every time the Schedule passes a node.
s --add job --i class2d --mode new
s --add job --i cryodiscovery --mode new
s --add job --i inimodel --mode new

# Edges. The first edge's input node (class2d) is where the Schedule starts.
s --add edge --i class2d --o class2d_data_files=GLOB_class2d_data_pattern
s --add edge --i class2d_data_files=GLOB_class2d_data_pattern --o n_data_files=COUNT_WORDS_class2d_data_files
s --add edge --i n_data_files=COUNT_WORDS_class2d_data_files --o class2d_data=NTH_WORD_class2d_data_files_n_data_files
s --add edge --i class2d_data=NTH_WORD_class2d_data_files_n_data_files --o cryodiscovery
s --add edge --i cryodiscovery --o n_input=COUNT_IMGS_class2d_data_undefined
s --add edge --i n_input=COUNT_IMGS_class2d_data_undefined --o n_kept=COUNT_IMGS_selected_particles_undefined
s --add edge --i n_kept=COUNT_IMGS_selected_particles_undefined --o n_rejected=n_input_MINUS_n_kept
s --add edge --i n_rejected=n_input_MINUS_n_kept --o reject_fraction=n_rejected_DIV_n_input
s --add edge --i reject_fraction=n_rejected_DIV_n_input --o round=round_PLUS_round_step
s --add edge --i round=round_PLUS_round_step --o current_particles=GLOB_selected_particles
s --add edge --i current_particles=GLOB_selected_particles --o converged=reject_fraction_LT_min_reject_fraction
s --add edge --i converged=reject_fraction_LT_min_reject_fraction --o max_reached=round_GE_max_rounds
s --add edge --i max_reached=round_GE_max_rounds --o stop_cleaning=converged_OR_max_reached
# Fork: if stop_cleaning -> inimodel (--o), else -> class2d again (--o2).
s --add fork --i stop_cleaning=converged_OR_max_reached --bool stop_cleaning --o inimodel --o2 class2d
s --add edge --i inimodel --o EXIT
s --reset

mkdir -p "$out"
cp Schedules/clean2d/schedule.star Schedules/clean2d/schedule_pipeline.star "$out/"
for job in class2d cryodiscovery inimodel; do
    mkdir -p "$out/$job"
    cp "Schedules/clean2d/$job/job.star" "$out/$job/job.star"
done
echo "wrote $out"
