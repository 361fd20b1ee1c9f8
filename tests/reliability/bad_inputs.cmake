# Bad inputs a new user tried, run through the `mithril` command as a user would: each must end
# with a clear `mithril: ...` message and exit status 1, never a crash, a raw library message
# (nlohmann's "[json.exception...]", std::bad_alloc, libstdc++'s filebuf) or a silent default.
# Included from tests/CMakeLists.txt.
set(MITHRIL_BAD_INPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/bad_inputs)
file(MAKE_DIRECTORY ${MITHRIL_BAD_INPUT_DIR})
set(MITHRIL_RAW_MESSAGES "json\\.exception|std::|basic_filebuf|max_size|Segmentation|core dumped|exit=1[0-9][0-9]")

# mithril_bad_input(NAME "expected regex" SHELL_COMMAND): $M is the mithril command, $D a scratch
# directory, $E the README's example model.
function(mithril_bad_input name regex command)
  add_test(NAME bad_input.${name}
           COMMAND sh -c "M='$<TARGET_FILE:mithril_cli>'; D='${MITHRIL_BAD_INPUT_DIR}'; E='${PROJECT_SOURCE_DIR}/examples/linear_relu.json'; ${command} 2>&1; echo exit=$?")
  set_tests_properties(bad_input.${name} PROPERTIES PASS_REGULAR_EXPRESSION "${regex}\nexit=1"
                       FAIL_REGULAR_EXPRESSION "${MITHRIL_RAW_MESSAGES}" ${ARGN})
endfunction()

# Element counts that wrap int64 (were SIGSEGV, and an "empty" tensor with a 128-byte arena).
mithril_bad_input(shapes_overflow_run
  "mithril: \\[shapes\\] 'x': shape \\(2305843009213693953,8\\) has more elements than fit in 64 bits"
  "\"$M\" run \"$E\" --shapes x=2305843009213693953x8 --shapes w=2x8 --shapes b=2")
mithril_bad_input(shapes_overflow_summary
  "mithril: \\[shapes\\] 'x': shape \\(4294967296,4294967296\\) has more elements than fit in 64 bits"
  "\"$M\" summary \"$E\" --shapes x=4294967296x4294967296")
mithril_bad_input(shapes_overflow_bytes
  "mithril: \\[shapes\\] 'x': shape \\(1152921504606846976,16\\) has more elements than fit in 64 bits"
  "\"$M\" run \"$E\" --shapes x=1152921504606846976x16")
mithril_bad_input(shapes_too_many_bytes
  "mithril: \\[shapes\\] 'x': shape \\(576460752303423488,2\\) needs 1152921504606846976 elements x 8 bytes, over the limit of 4611686018427387904 bytes per tensor"
  "\"$M\" run \"$E\" --shapes x=576460752303423488x2")
mithril_bad_input(options_shapes_overflow
  "mithril: \\[compile options\\] 'shapes.x': shape \\(4294967296,4294967296\\) has more elements than fit in 64 bits"
  "\"$M\" run \"$E\" --options '{\"shapes\": {\"x\": [4294967296, 4294967296]}}'")
# An allocation the system refuses is a clear out-of-memory error naming the bytes.
mithril_bad_input(shapes_out_of_memory
  "mithril: \\[run\\] input 'x' of shape \\(10000000,10000000\\): out of memory for 800000000000000 bytes of random values"
  "\"$M\" run \"$E\" --shapes x=10000000x10000000 --shapes w=2x10000000 --shapes b=2"
  ENVIRONMENT "ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0")
# 200,000 nested arrays in a 400 KB model dict (was a stack overflow copying the document).
mithril_bad_input(json_nesting
  "mithril: \\[model dict\\] .*deep.json: nesting deeper than 256 levels at byte 256"
  "{ printf '['; head -c 200000 /dev/zero | tr '\\0' '['; } > \"$D/deep.json\"; \"$M\" summary \"$D/deep.json\"")
# Wrong JSON types are named by path, not as nlohmann's type_error.302.
mithril_bad_input(json_type
  "mithril: \\[model dict\\] model: type must be string, but is number"
  "echo '{\"name\": \"Model\", \"exposed_keys\": [1]}' > \"$D/type.json\"; \"$M\" summary \"$D/type.json\"")
mithril_bad_input(model_arg_type
  "\\[Linear\\] argument 'use_bias' must be true or false, got \"yes\""
  "echo '{\"name\": \"Linear\", \"args\": {\"use_bias\": \"yes\"}}' > \"$D/arg.json\"; \"$M\" summary \"$D/arg.json\"")
# A non-integral dimension is an error, not 256.
mithril_bad_input(mlp_fractional_dim
  "\\[MLP\\] argument 'dimensions' must be an integer, got 256.5"
  "echo '{\"name\": \"MLP\", \"args\": {\"activations\": [\"Relu\"], \"dimensions\": [256.5]}}' > \"$D/mlp.json\"; \"$M\" summary \"$D/mlp.json\"")
# Unknown models name the closest ones and `mithril models`, which lists every name.
mithril_bad_input(unknown_model
  "mithril: \\[model dict\\] model.submodels.e: unknown model 'Exp' \\(closest: Exponential; `mithril models` lists every model\\)"
  "echo '{\"name\": \"Model\", \"submodels\": {\"e\": \"Exp\"}}' > \"$D/exp.json\"; \"$M\" summary \"$D/exp.json\"")
add_test(NAME bad_input.models_lists_every_name COMMAND mithril_cli models)
set_tests_properties(bad_input.models_lists_every_name PROPERTIES PASS_REGULAR_EXPRESSION
                     "Linear\\(dimension, use_bias\\) +library.*Exponential\\(input\\) +primitive.*[0-9]+ models")
# A directory where a file belongs (was "basic_filebuf::underflow error reading the file").
mithril_bad_input(directory_as_config
  "config: File is actually a directory: .*dir.json\nRun with --help for more information."
  "mkdir -p \"$D/dir.json\"; \"$M\" train \"$D/dir.json\"")
mithril_bad_input(directory_as_model_in_config
  "mithril: \\[model dict\\] .*/dir.json: is a directory, not a file"
  "mkdir -p \"$D/dir.json\"; echo '{\"model\": \"dir.json\", \"dataset\": {\"kind\": \"digits\"}}' > \"$D/c0.json\"; \"$M\" train \"$D/c0.json\"")
mithril_bad_input(directory_as_options
  "mithril: \\[compile options\\] .*: is a directory, not a file"
  "\"$M\" run \"$E\" --options \"$D\"")
# Environment values are checked, naming the variable (were silently 2 threads).
mithril_bad_input(num_threads_word "mithril: MITHRIL_NUM_THREADS='banana' is not an integer from 1 to 1024"
  "MITHRIL_NUM_THREADS=banana \"$M\" env")
mithril_bad_input(num_threads_zero "mithril: MITHRIL_NUM_THREADS='0' is not an integer from 1 to 1024"
  "MITHRIL_NUM_THREADS=0 \"$M\" env")
mithril_bad_input(verbose_word "MITHRIL_VERBOSE='banana' is not a switch: expected 1 or 0 \\(true/false, yes/no, on/off\\)"
  "MITHRIL_VERBOSE=banana \"$M\" run \"$E\" --shapes x=4x3 --shapes w=2x3 --shapes b=2")
# Unknown fields of every config object are errors listing the valid ones (were defaults, silently).
mithril_bad_input(train_model_args
  "mithril: \\[config\\] unknown field 'hiden' in 'model_args \\(mlp\\)', did you mean 'hidden'\\? \\(valid: hidden\\)"
  "echo '{\"model\": \"mlp\", \"model_args\": {\"hiden\": [4]}, \"dataset\": {\"kind\": \"digits\"}}' > \"$D/c1.json\"; \"$M\" train \"$D/c1.json\"")
mithril_bad_input(train_dataset
  "mithril: \\[config\\] unknown field 'shufle' in 'dataset' \\(valid: kind, path, input_shape, test_fraction, split_seed\\)"
  "echo '{\"model\": \"mlp\", \"dataset\": {\"kind\": \"digits\", \"shufle\": true}}' > \"$D/c2.json\"; \"$M\" train \"$D/c2.json\"")
mithril_bad_input(train_lenet_args
  "mithril: \\[config\\] unknown field 'conv_1' in 'model_args \\(lenet\\)', did you mean 'conv1'\\? \\(valid: conv1, conv2, hidden\\)"
  "echo '{\"model\": \"lenet\", \"model_args\": {\"conv_1\": 4}, \"dataset\": {\"kind\": \"digits\"}}' > \"$D/c3.json\"; \"$M\" train \"$D/c3.json\"")
mithril_bad_input(train_optimizer
  "mithril: \\[optimizer\\] unknown field 'learning_rate' \\(valid: name, lr, weight_decay, momentum, dampening, nesterov, betas, alpha, eps\\)"
  "echo '{\"model\": \"mlp\", \"optimizer\": {\"learning_rate\": 1}, \"dataset\": {\"kind\": \"digits\"}}' > \"$D/c4.json\"; \"$M\" train \"$D/c4.json\"")
mithril_bad_input(train_schedule
  "mithril: \\[lr schedule\\] unknown field 'warmup' \\(valid: kind, warmup_steps, step_size, gamma, min_lr\\)"
  "echo '{\"model\": \"mlp\", \"schedule\": {\"warmup\": 1}, \"epochs\": 1, \"dataset\": {\"kind\": \"digits\"}}' > \"$D/c5.json\"; \"$M\" train \"$D/c5.json\"")
mithril_bad_input(train_sample
  "mithril: \\[config\\] unknown field 'temp' in 'sample', did you mean 'temperature'\\? \\(valid: prompt, length, temperature\\)"
  "echo '{\"model\": \"mlp\", \"sample\": {\"temp\": 1}, \"dataset\": {\"kind\": \"digits\"}}' > \"$D/c6.json\"; \"$M\" train \"$D/c6.json\"")
mithril_bad_input(train_hidden_fraction
  "mithril: \\[config\\] model_args.hidden must be a list of integers >= 1, got \\[256.5\\]"
  "echo '{\"model\": \"mlp\", \"model_args\": {\"hidden\": [256.5]}, \"epochs\": 1, \"dataset\": {\"kind\": \"digits\"}}' > \"$D/c7.json\"; \"$M\" train \"$D/c7.json\"")
# CLI11's own errors exit 1 too (were 105, 106, ...).
mithril_bad_input(cli_parse_error "model is required\nRun with --help for more information." "\"$M\" run")
mithril_bad_input(cli_bad_option_value "banana.*\nRun with --help for more information." "\"$M\" run \"$E\" --seed banana")

# Checkpoints under faults (tests/reliability/checkpoint_faults.sh): SIGKILL at random moments
# (20 kills here; the script takes any count for longer runs) and a full disk.
add_test(NAME checkpoint.kill9_resume_bitwise
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/reliability/checkpoint_faults.sh kill9 $<TARGET_FILE:mithril_cli>
                 ${CMAKE_CURRENT_BINARY_DIR}/checkpoint_kill9 20)
add_test(NAME checkpoint.disk_full
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/reliability/checkpoint_faults.sh disk_full $<TARGET_FILE:mithril_cli>
                 ${CMAKE_CURRENT_BINARY_DIR}/checkpoint_disk_full)
set_tests_properties(checkpoint.kill9_resume_bitwise checkpoint.disk_full PROPERTIES TIMEOUT 300)
