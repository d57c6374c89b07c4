package io.arpo4j.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A Hugging Face tokenizer: {@code tokenizer.json} run by the Rust tokenizers library through DJL's
 * binding, plus what {@code tokenizer_config.json} adds: special tokens (bos/eos/pad/unk) and the
 * chat template. Encoding never adds special tokens (chat templates write them); {@link
 * #decode(int[])} drops special tokens, as {@code skip_special_tokens=True} does.
 *
 * <p>DJL ships the native library for CPU inside its jar. On a machine with CUDA it would look for
 * (and try to download) a CUDA build; this class pins the CPU flavour, so it never goes to the
 * network.
 */
public final class HfTokenizer implements TextCodec, AutoCloseable {

  public static final String TOKENIZER_FILE = "tokenizer.json";
  public static final String CONFIG_FILE = "tokenizer_config.json";

  /** The special-token keys of tokenizer_config.json that templates see as variables. */
  private static final List<String> SPECIAL_KEYS =
      List.of("bos_token", "eos_token", "pad_token", "unk_token");

  private static final ObjectMapper JSON = new ObjectMapper();

  static {
    // Use the CPU library bundled in the DJL jar; never download a CUDA flavour.
    if (System.getProperty("RUST_FLAVOR") == null && System.getenv("RUST_FLAVOR") == null) {
      System.setProperty("RUST_FLAVOR", "cpu");
    }
  }

  private final HuggingFaceTokenizer tokenizer;
  private final byte[] tokenizerJson;
  private final byte[] configJson;
  private final Map<String, Integer> vocab;
  private final Set<Integer> specialIds;
  private final Map<String, String> specialTokens;
  private final List<String> additionalSpecialTokens;
  private final ChatTemplate chatTemplate;
  private final ChatTemplate toolChatTemplate;
  private final int vocabSize;
  private final int maxTokenChars;

  private HfTokenizer(byte[] tokenizerJson, byte[] configJson) throws IOException {
    this.tokenizerJson = tokenizerJson;
    this.configJson = configJson;
    JsonNode tok;
    try {
      tok = JSON.readTree(tokenizerJson);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          TOKENIZER_FILE + " is not valid JSON: " + e.getMessage(), e);
    }
    if (tok == null || !tok.isObject() || !tok.has("model")) {
      throw new IllegalArgumentException(TOKENIZER_FILE + " has no model section");
    }
    this.vocab = new HashMap<>();
    JsonNode modelVocab = tok.get("model").get("vocab");
    if (modelVocab != null && modelVocab.isObject()) {
      modelVocab.fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
    } else if (modelVocab != null && modelVocab.isArray()) { // Unigram: [[piece, score], ...]
      for (int i = 0; i < modelVocab.size(); i++) {
        vocab.put(modelVocab.get(i).get(0).asText(), i);
      }
    }
    Set<Integer> special = new LinkedHashSet<>();
    JsonNode added = tok.get("added_tokens");
    if (added != null && added.isArray()) {
      for (JsonNode a : added) {
        vocab.put(a.get("content").asText(), a.get("id").asInt());
        if (a.path("special").asBoolean(false)) {
          special.add(a.get("id").asInt());
        }
      }
    }
    this.specialIds = Collections.unmodifiableSet(special);
    this.vocabSize = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    this.maxTokenChars =
        Math.max(1, vocab.keySet().stream().mapToInt(String::length).max().orElse(1));

    JsonNode config = JSON.createObjectNode();
    if (configJson != null) {
      try {
        config = JSON.readTree(configJson);
      } catch (IOException e) {
        throw new IllegalArgumentException(
            CONFIG_FILE + " is not valid JSON: " + e.getMessage(), e);
      }
    }
    Map<String, String> tokens = new LinkedHashMap<>();
    for (String key : SPECIAL_KEYS) {
      String value = tokenText(config.get(key));
      if (value != null) {
        tokens.put(key, value);
      }
    }
    this.specialTokens = Collections.unmodifiableMap(tokens);
    List<String> additional = new ArrayList<>();
    config.path("additional_special_tokens").forEach(t -> additional.add(tokenText(t)));
    this.additionalSpecialTokens = Collections.unmodifiableList(additional);
    ChatTemplate[] templates = parseTemplates(config.get("chat_template"));
    this.chatTemplate = templates[0];
    this.toolChatTemplate = templates[1];

    Map<String, String> options =
        Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
    this.tokenizer =
        HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson), options);
  }

  /** Loads tokenizer.json (required) and tokenizer_config.json (optional) from {@code dir}. */
  public static HfTokenizer load(Path dir) throws IOException {
    Path tokenizerFile = dir.resolve(TOKENIZER_FILE);
    if (!Files.isRegularFile(tokenizerFile)) {
      throw new IllegalArgumentException("no " + TOKENIZER_FILE + " in " + dir);
    }
    Path configFile = dir.resolve(CONFIG_FILE);
    byte[] config = Files.isRegularFile(configFile) ? Files.readAllBytes(configFile) : null;
    return new HfTokenizer(Files.readAllBytes(tokenizerFile), config);
  }

  /** From the bytes of tokenizer.json and (nullable) tokenizer_config.json. */
  public static HfTokenizer fromBytes(byte[] tokenizerJson, byte[] configJson) throws IOException {
    return new HfTokenizer(tokenizerJson, configJson);
  }

  /**
   * The longest vocabulary entry in characters. Byte-level vocabularies spell each byte as one
   * character, so an entry is never shorter than the text it decodes to.
   */
  @Override
  public int maxTokenChars() {
    return maxTokenChars;
  }

  @Override
  public int[] encode(String text) {
    if (text == null) {
      throw new IllegalArgumentException("text must not be null");
    }
    long[] ids = tokenizer.encode(text).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /**
   * Token ids of {@code text} with the special tokens the tokenizer's post-processor adds (what
   * transformers' {@code tokenizer(text)} returns: Llama 3 prepends {@code <|begin_of_text|>}, Qwen
   * adds nothing). For plain prompts; a chat template writes its special tokens itself.
   */
  public int[] encodeWithSpecialTokens(String text) {
    if (text == null) {
      throw new IllegalArgumentException("text must not be null");
    }
    long[] ids = tokenizer.encode(text, true, false).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /** Text of {@code ids} without special tokens. */
  @Override
  public String decode(int[] ids) {
    return decode(ids, true);
  }

  /**
   * Text of {@code ids}. Ids past the tokenizer's vocabulary (a model's embedding table is often
   * padded beyond it) decode to nothing, as in HF tokenizers.
   */
  public String decode(int[] ids, boolean skipSpecialTokens) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0) {
        throw new IllegalArgumentException("ids[" + i + "] = " + ids[i] + " is negative");
      }
      longs[i] = ids[i];
    }
    return tokenizer.decode(longs, skipSpecialTokens);
  }

  /** One past the largest token id the tokenizer can produce. */
  public int vocabSize() {
    return vocabSize;
  }

  /** The id of a vocabulary or added token, e.g. {@code "<|im_end|>"}. */
  public OptionalInt tokenId(String token) {
    Integer id = vocab.get(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  /** Ids of the added tokens marked special. */
  public Set<Integer> specialTokenIds() {
    return specialIds;
  }

  /** bos_token, eos_token, pad_token, unk_token from tokenizer_config.json, when set. */
  public Map<String, String> specialTokens() {
    return specialTokens;
  }

  /** The id of tokenizer_config.json's eos_token, if any. */
  public OptionalInt eosTokenId() {
    String eos = specialTokens.get("eos_token");
    return eos == null ? OptionalInt.empty() : tokenId(eos);
  }

  public Optional<ChatTemplate> chatTemplate() {
    return Optional.ofNullable(chatTemplate);
  }

  /**
   * Renders a conversation with the chat template (the {@code tool_use} variant, when the config
   * has named templates and tools are given), with the special tokens as template variables.
   */
  public String applyChatTemplate(
      List<Map<String, Object>> messages,
      List<Map<String, Object>> tools,
      boolean addGenerationPrompt,
      Map<String, Object> variables) {
    ChatTemplate template =
        tools != null && toolChatTemplate != null ? toolChatTemplate : chatTemplate;
    if (template == null) {
      throw new IllegalStateException("this tokenizer has no chat_template in " + CONFIG_FILE);
    }
    Map<String, Object> vars = new HashMap<>(specialTokens);
    vars.put("additional_special_tokens", additionalSpecialTokens);
    if (variables != null) {
      vars.putAll(variables);
    }
    return template.render(messages, tools, addGenerationPrompt, vars);
  }

  /** Writes tokenizer.json and tokenizer_config.json (as loaded) into {@code dir}. */
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.write(dir.resolve(TOKENIZER_FILE), tokenizerJson);
    if (configJson != null) {
      Files.write(dir.resolve(CONFIG_FILE), configJson);
    }
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  /** A special token is written either as a string or as an AddedToken object {content: ...}. */
  private static String tokenText(JsonNode node) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (node.isTextual()) {
      return node.asText();
    }
    if (node.isObject() && node.hasNonNull("content")) {
      return node.get("content").asText();
    }
    throw new IllegalArgumentException(
        "special token must be a string or {content: ...}, got " + node);
  }

  /** [default, tool_use] from a string or a list of {name, template}. */
  private static ChatTemplate[] parseTemplates(JsonNode node) {
    if (node == null || node.isNull()) {
      return new ChatTemplate[2];
    }
    if (node.isTextual()) {
      return new ChatTemplate[] {new ChatTemplate(node.asText()), null};
    }
    if (node.isArray()) {
      Map<String, ChatTemplate> named = new HashMap<>();
      node.forEach(
          t -> named.put(t.path("name").asText(), new ChatTemplate(t.path("template").asText())));
      return new ChatTemplate[] {named.get("default"), named.get("tool_use")};
    }
    throw new IllegalArgumentException(
        "chat_template must be a string or a list of {name, template}");
  }
}
