# Atrium — the two commands: `make run` and `make test`.
SWIFT ?= swift
CONFIG ?= Config/atrium.yaml
RELEASE_BIN = .build/release

.PHONY: deps build release run test bots loadtest capacity bench floor fuzz clean

## deps: install missing Debian packages (as root or with sudo), or say what to run
deps:
	@scripts/ensure-deps.sh

## build: debug build of everything
build: deps
	$(SWIFT) build

## release: optimized build of the executables
release: deps
	$(SWIFT) build -c release --product atrium
	$(SWIFT) build -c release --product atrium-bots
	$(SWIFT) build -c release --product atrium-floor

## run: build (release) and serve the worlds in Worlds/ with the default configuration
run: release
	$(RELEASE_BIN)/atrium serve --config $(CONFIG)

## test: unit + in-process end-to-end tests, world file checks, the smoke load scenario end to end, and a two-run
## capacity search over it (the subcommand end to end; bots.connected is ignored, it asks for all 20 bots)
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(SWIFT) run atrium check-world Worlds/*.yaml
	$(SWIFT) run atrium-bots run LoadTests/smoke.yaml --json .build/reports/smoke.json --html .build/reports/smoke.html
	$(SWIFT) run atrium-bots capacity LoadTests/smoke.yaml --min 4 --max 8 --step 4 --duration 4 \
		--ignore-slo bots.connected --json .build/reports/smoke-capacity.json

## bots: point 50 bots at a running server (SERVER=host:port WORLD=id BOTS=n DURATION=s)
bots: release
	$(RELEASE_BIN)/atrium-bots run --server $(or $(SERVER),127.0.0.1:7777) --world $(or $(WORLD),expo-hall) \
		--bots $(or $(BOTS),50) --duration $(or $(DURATION),60)

## loadtest: run one scenario from LoadTests/ (SCENARIO=expo-1000; extra flags in ARGS)
loadtest: release
	$(RELEASE_BIN)/atrium-bots run LoadTests/$(or $(SCENARIO),smoke).yaml $(ARGS)

## capacity: the most bots a scenario holds within its SLOs, by binary search (SCENARIO=expo-1000; flags in ARGS)
capacity: release
	$(RELEASE_BIN)/atrium-bots capacity LoadTests/$(or $(SCENARIO),expo-1000).yaml $(ARGS)

## floor: bare-ENet CPU floor for a load report's datagram pattern (REPORT=reports/expo-1000.json)
floor: deps
	$(SWIFT) build -c release --product atrium-floor
	$(RELEASE_BIN)/atrium-floor --from $(or $(REPORT),reports/expo-1000.json)

## bench: microbenchmarks (Benchmarks/, its own package; FILTER=regex picks benchmarks)
bench:
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark $(if $(FILTER),--filter '$(FILTER)')

## fuzz: libFuzzer harnesses for every decoder (Fuzz/, its own package), each for FUZZ_SECONDS (default 60);
##       fails on any crash; crashing inputs go to fuzz-artifacts/
fuzz:
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) SWIFT=$(SWIFT) Fuzz/run.sh

clean:
	rm -rf .build
