# mrcnn — build, test, benchmark.
#
#   make            build ./mrcnn and ./mrcnn-core (the command-line tool: the
#                   light front, running eval itself, and the full tool it
#                   executes for every other subcommand)
#   make demo       the main job: deps, build, synthetic data, short table 2c
#   make test       build and run every test (one cmocka runner; GROUP=name runs one group)
#   make asan       the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       mutation fuzzing of every input file under both (scripts/fuzz.py)
#   make soak       kill -9 soak of train --resume and ablate (scripts/soak.sh; minutes, not in CI)
#   make bench      benchmarks; results go to results/bench/
#   make deps       install the Debian packages the project needs, when missing
#                   (with Open MPI unless MPI=0)
#   make test-slurm a real one-node Slurm on this machine runs a small sweep (root)
#
# MPI: built with Open MPI (core/dist_mpi.c, `mpirun -np K mrcnn train`) when
# mpicc is on the PATH, else the one-process communicator (core/dist_single.c);
# MPI=0 or MPI=1 forces the choice. Auto, so that a plain `make` works on a
# machine without MPI and CI, after `make deps`, builds and tests K = 2.
#
# Sources are found by folder: core/ coco/ variants/ eval/ datasets/ report/ harness/ are the
# library (build/libmrcnn.a), cli/ is the command line, tests/ the test runner.
#
# Two binaries per build directory: $(BUILD)/mrcnn-core, the full tool
# (cli/main.c, every command, the whole library, LDLIBS), and $(BUILD)/mrcnn,
# the front (cli/front.c): the light commands (eval) and only the objects
# they need, linked with FRONT_LDLIBS (libc, libm, cJSON: no OpenBLAS,
# OpenMP, MPI, libjpeg or stb, whose loading costs every process ~7 ms);
# for any other command it executes the mrcnn-core beside it.

CC       ?= gcc
BUILD    ?= build
OPT      ?= -O3 -march=native
CFLAGS   ?= $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -pthread -fopenmp
CPPFLAGS += -I. -I/usr/include/stb
# OpenBLAS's OpenMP build, so that BLAS and our OpenMP loops share one thread pool (two pools spin on 2 cores: see harness/speed.c)
# Debian's multiarch folder (x86_64-linux-gnu, aarch64-linux-gnu, ...)
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
ifeq ($(MULTIARCH),)
MULTIARCH := x86_64-linux-gnu
endif
LDLIBS   += -L/usr/lib/$(MULTIARCH)/openblas-openmp -Wl,-rpath,/usr/lib/$(MULTIARCH)/openblas-openmp -l:libopenblas.so.0 -lcjson -lstb -ljpeg -lm -pthread -fopenmp
TEST_LDLIBS = -lcmocka

DEB_PKGS = libopenblas-dev libopenblas0-openmp libcjson-dev gnuplot-nox libstb-dev libjpeg62-turbo-dev libcmocka-dev pkg-config

# make deps installs Open MPI unless MPI=0 was asked for
ifneq ($(MPI),0)
DEB_PKGS += openmpi-bin libopenmpi-dev
endif
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
DIST_OFF   = single
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c 2>/dev/null)
LDLIBS     += $(MPI_LIBS)
else
DIST_OFF   = mpi
endif

LIB_DIRS = core coco variants eval datasets report harness
LIB_SRC  = $(filter-out core/dist_$(DIST_OFF).c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
CLI_SRC  = $(wildcard cli/*.c)
CORE_CLI_SRC = $(filter-out cli/front.c,$(CLI_SRC))
# the front: its main, the shared helpers, the light commands (cli.h's
# MR_COMMANDS) and the library files they use. A light command that comes
# to need more fails the front's link (undefined reference): add the file
# here if it needs only libc, libm and cJSON, else the command is not light.
FRONT_SRC = cli/front.c cli/util.c cli/cmd_eval.c \
	core/err.c core/fileio.c core/json.c core/strbuf.c $(wildcard coco/*.c) $(wildcard eval/*.c) \
	report/plot.c report/plot_analyze.c
FRONT_LDLIBS = -lcjson -lm -pthread
TEST_SRC = $(wildcard tests/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
CORE_CLI_OBJ = $(CORE_CLI_SRC:%.c=$(BUILD)/%.o)
FRONT_OBJ = $(FRONT_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
DEPS     = $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
GIT_DIRTY  := $(shell test -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo 1 || echo 0)

.PHONY: all deps test asan fuzz soak bench demo clean determinism test-reference test-slurm
all: mrcnn mrcnn-core

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to apt-get install$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# the version object carries the commit; rebuild it when HEAD moves
$(BUILD)/core/buildinfo.o: CPPFLAGS += -DMRCNN_GIT_COMMIT='"$(GIT_COMMIT)"' -DMRCNN_GIT_DIRTY=$(GIT_DIRTY) -DMRCNN_CFLAGS='"$(OPT)"'
$(BUILD)/core/buildinfo.o: $(wildcard .git/HEAD .git/index)

# the MPI implementation sees mpi.h; the archive is remade when the choice changes
$(BUILD)/core/dist_mpi.o: CPPFLAGS += $(MPI_CFLAGS)
DIST_STAMP = $(BUILD)/gen/dist_$(DIST_OFF)_off
$(DIST_STAMP):
	@mkdir -p $(dir $@) && rm -f $(BUILD)/gen/dist_*_off && touch $@

$(BUILD)/libmrcnn.a: $(LIB_OBJ) $(DIST_STAMP)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

# The binaries are built per build directory (helpers and sanitizer builds
# use their own BUILD=...); ./mrcnn and ./mrcnn-core are the default build's
# copies (the front finds the core in its own folder). The front links
# without -fopenmp (no libgomp; its objects have no OpenMP regions) and
# without LDLIBS; sanitizer flags come with CFLAGS.
$(BUILD)/mrcnn-core: $(CORE_CLI_OBJ) $(BUILD)/libmrcnn.a
	$(CC) $(CFLAGS) -o $@ $(CORE_CLI_OBJ) $(BUILD)/libmrcnn.a $(LDLIBS)

$(BUILD)/mrcnn: $(FRONT_OBJ)
	$(CC) $(filter-out -fopenmp,$(CFLAGS)) -o $@ $(FRONT_OBJ) $(FRONT_LDLIBS)

mrcnn-core: $(BUILD)/mrcnn-core
	cp $(BUILD)/mrcnn-core $@.tmp && mv -f $@.tmp $@

# the core first: a new front never sits beside an old core
mrcnn: $(BUILD)/mrcnn mrcnn-core
	cp $(BUILD)/mrcnn $@.tmp && mv -f $@.tmp $@

# The test groups are discovered, not listed: every `size_t tests_<group>(`
# defined at the start of a line in tests/*.c is a group of the runner, and
# every `const struct CMUnitTest th_<part>_tests[] =` a part of the harness
# group. The generated header is rewritten only when the list changes; a
# group or part declared here that no file defines fails the link.
TEST_GEN = $(BUILD)/gen/test_groups.h
$(TEST_GEN): $(TEST_SRC) Makefile
	@mkdir -p $(dir $@)
	@{ echo '/* generated by the Makefile from the test files in tests/: do not edit */'; \
	  printf '#define TEST_GROUPS(X)'; \
	  sed -n 's/^size_t tests_\([a-z0-9_]*\)(.*/ X(\1)/p' $(sort $(TEST_SRC)) | tr -d '\n'; echo; \
	  printf '#define TEST_HARNESS_PARTS(X)'; \
	  sed -n 's/^const struct CMUnitTest th_\([a-z0-9_]*\)_tests\[\] *=.*/ X(\1)/p' $(sort $(TEST_SRC)) | tr -d '\n'; echo; \
	} > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/tests/test_main.o $(BUILD)/tests/test_harness.o: $(TEST_GEN)
$(BUILD)/tests/test_main.o $(BUILD)/tests/test_harness.o: CPPFLAGS += -I$(BUILD)/gen

$(BUILD)/mrcnn_tests: $(TEST_OBJ) $(BUILD)/libmrcnn.a
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libmrcnn.a $(LDLIBS) $(TEST_LDLIBS)

# The tests run from the repository root and find ../shared relative to it
# (MRCNN_SHARED overrides). The runner's last line is cmocka's summary.
test: deps
	@$(MAKE) --no-print-directory $(BUILD)/mrcnn $(BUILD)/mrcnn-core $(BUILD)/mrcnn_tests
	MRCNN_BIN=$(CURDIR)/$(BUILD)/mrcnn ./$(BUILD)/mrcnn_tests $(GROUP)

ASAN_BUILD = $(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDLIBS="$(LDLIBS) -fsanitize=address,undefined"

asan: deps
	@$(ASAN_BUILD) build-asan/mrcnn build-asan/mrcnn-core build-asan/mrcnn_tests
	ASAN_OPTIONS=detect_leaks=1 MRCNN_ASAN=1 MRCNN_BIN=$(CURDIR)/build-asan/mrcnn ./build-asan/mrcnn_tests $(GROUP)

# mutation fuzzing of every input file under ASan + UBSan (scripts/fuzz.py;
# FUZZ="--iters 200 --seed 2 eval_dt" passes options and targets)
fuzz: deps mrcnn
	@$(ASAN_BUILD) build-asan/mrcnn build-asan/mrcnn-core
	python3 scripts/fuzz.py $(FUZZ)

# kill -9 at random points of training and sweeps, inside store and record
# writes too; results bitwise equal, one record per run (SOAK_TRAINS=N ...)
soak: deps mrcnn
	./scripts/soak.sh

bench: deps mrcnn
	./scripts/bench.sh

demo: deps mrcnn
	./scripts/demo.sh

# a one-node Slurm on this machine runs a small ablation sweep (root; installs slurm-wlm munge)
test-slurm: deps mrcnn
	./scripts/test_slurm.sh

determinism: deps mrcnn
	./scripts/determinism.sh

# torchvision equality on the full R50-FPN models (scripts/torchvision_reference.py):
# installs python3-torchvision when missing, writes build/ref/ (large, not committed)
# once per script change, and runs the `reference` group on both models (with
# the mask model's run, `mrcnn infer --image` end to end on the cases.json images).
REF_DIR = build/ref
$(REF_DIR)/tv_full_mask_ref.safetensors: scripts/torchvision_reference.py
	@/usr/bin/python3 -c "import torchvision" 2>/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "make test-reference: need root to apt-get install python3-torchvision" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torchvision >/dev/null; }
	/usr/bin/python3 scripts/torchvision_reference.py full $(REF_DIR)

test-reference: deps $(REF_DIR)/tv_full_mask_ref.safetensors
	@$(MAKE) --no-print-directory $(BUILD)/mrcnn $(BUILD)/mrcnn-core $(BUILD)/mrcnn_tests
	MRCNN_REF=$(REF_DIR)/tv_full_mask MRCNN_REF_CASES=$(REF_DIR) MRCNN_BIN=$(CURDIR)/$(BUILD)/mrcnn ./$(BUILD)/mrcnn_tests reference
	MRCNN_REF=$(REF_DIR)/tv_full_kp MRCNN_BIN=$(CURDIR)/$(BUILD)/mrcnn ./$(BUILD)/mrcnn_tests reference

clean:
	rm -rf build build-* mrcnn mrcnn-core

-include $(DEPS)

# the link flags, for scripts that build a driver against libmrcnn.a (scripts/bench_torchvision.sh)
print-ldlibs:
	@echo $(LDLIBS)
.PHONY: print-ldlibs
