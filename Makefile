# Looper: build, install and test the LV2 bundle.
#
#   make                 build the release library into looper.lv2/
#   make install         install the bundle into $(LV2DIR) (default ~/.lv2)
#   make uninstall       remove it
#   make test            install what a fresh Debian 12 machine lacks, then run every test
#   make bench           benchmarks: target/bench/summary.json and worst_block.png
#   make soak            the model-based soak for 8 hours of audio with 4 seeds
#   make demo            render demo/looper-demo.wav and .png through headless Ardour
#
# Honours PREFIX (then LV2DIR defaults to $(PREFIX)/lib/lv2), DESTDIR and LV2DIR.

CARGO    ?= cargo
BUNDLE   := looper.lv2
LIB      := liblooper.so
ifdef PREFIX
LV2DIR   ?= $(PREFIX)/lib/lv2
else
LV2DIR   ?= $(HOME)/.lv2
endif
INSTDIR  := $(DESTDIR)$(LV2DIR)/$(BUNDLE)
TTL      := $(BUNDLE)/manifest.ttl $(BUNDLE)/looper.ttl

.PHONY: all build install uninstall test check-deps validate bench soak demo clean

all: build

# Where cargo builds (CARGO_TARGET_DIR or build.target-dir honoured), from its metadata.
TARGET_DIR_CMD := $(CARGO) metadata --format-version 1 --no-deps \
	| sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'

build:
	$(CARGO) build --release --locked
	cp "$$($(TARGET_DIR_CMD))/release/$(LIB)" $(BUNDLE)/$(LIB)

install: build
	install -d $(INSTDIR)
	install -m 644 $(TTL) $(INSTDIR)/
	install -m 755 $(BUNDLE)/$(LIB) $(INSTDIR)/$(LIB)
	@echo "installed $(INSTDIR)"

uninstall:
	rm -f $(INSTDIR)/$(LIB) $(INSTDIR)/manifest.ttl $(INSTDIR)/looper.ttl
	-rmdir $(INSTDIR)

check-deps:
	bash scripts/install-deps.sh

validate:
	sord_validate $$(find /usr/lib/lv2 -name '*.ttl') $(TTL)

test: check-deps
	bash scripts/test.sh

bench:
	bash scripts/bench.sh

soak: check-deps
	for seed in 1 2 3 4; do \
	  LOOPER_SOAK_SECONDS=28800 LOOPER_SOAK_SEED=$$seed \
	    $(CARGO) test --locked --release --features rt-guard --test soak -- --nocapture || exit 1; \
	done

demo: check-deps
	bash scripts/demo.sh

clean:
	$(CARGO) clean
	rm -f $(BUNDLE)/$(LIB)
