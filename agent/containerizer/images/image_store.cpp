#include "agent/containerizer/images/image_store.hpp"

#include <glog/logging.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/containerizer/images/layer_extractor.hpp"
#include "common/files.hpp"
#include "common/json.hpp"

namespace tutti::agent::images {

namespace {

using json = nlohmann::json;

constexpr int64_t kMaxConfigBytes = 8 << 20;

std::string hexOf(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool isDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

json configJson(const ImageConfig& c) {
  return json{{"entrypoint", c.entrypoint},
              {"cmd", c.cmd},
              {"env", c.env},
              {"workingDir", c.workingDir},
              {"user", c.user}};
}

ImageConfig configOf(const json& j) {
  ImageConfig c;
  c.entrypoint = j.value("entrypoint", std::vector<std::string>{});
  c.cmd = j.value("cmd", std::vector<std::string>{});
  c.env = j.value("env", std::vector<std::string>{});
  c.workingDir = j.value("workingDir", std::string());
  c.user = j.value("user", std::string());
  return c;
}

Status renameInto(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) return Status::OK();
  // Another pull put the same content there first: keep theirs.
  if ((errno == EEXIST || errno == ENOTEMPTY) && exists(to)) {
    (void)removeTree(from);
    return Status::OK();
  }
  return Status::IoError("cannot move " + from + " to " + to + ": " + std::strerror(errno));
}

// Does the layout / archive offer `ref`'s tag? OCI layouts name their
// manifests with the ref.name annotation ("latest" or "busybox:latest").
bool refMatches(const std::string& refName, const ImageReference& ref) {
  if (refName.empty()) return false;
  return refName == ref.tag || refName == ref.repository + ":" + ref.tag ||
         refName == ref.canonical();
}

// `name` inside the unpacked archive `dir`, symlinks resolved: a regular
// file that stays inside, or InvalidArgument.
Result<std::string> insideArchive(const std::string& dir, const std::string& name) {
  char root[PATH_MAX];
  char file[PATH_MAX];
  if (name.empty() || !::realpath(dir.c_str(), root) ||
      !::realpath((dir + "/" + name).c_str(), file)) {
    return Status::InvalidArgument("the archive has no file " + name);
  }
  std::string r = root;
  std::string f = file;
  struct stat st;
  if (f.compare(0, r.size() + 1, r + "/") != 0 || ::stat(file, &st) != 0 ||
      !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("the archive names a file outside it or not a file: " + name);
  }
  return f;
}

}  // namespace

ImageStore::ImageStore(Loop& loop, ImageStoreOptions options)
    : loop_(loop), options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { work(); });
  }
}

ImageStore::~ImageStore() {
  *alive_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

Status ImageStore::initialize() {
  for (const char* sub : {"blobs/sha256", "layers", "images"}) {
    Status s = makeDirectories(options_.dir + "/" + sub);
    if (!s.ok()) return s;
  }
  // Unpacked layers keep their set-uid programs: only the agent may reach
  // them (as Docker's /var/lib/docker).
  if (::chmod(options_.dir.c_str(), 0700) != 0) {
    return Status::IoError("cannot restrict " + options_.dir + ": " + std::strerror(errno));
  }
  // Staging left by a crash mid-pull: nothing in it was ever visible.
  (void)removeTree(options_.dir + "/staging");
  return makeDirectories(options_.dir + "/staging");
}

std::string ImageStore::layerDir(const std::string& digest) const {
  return options_.dir + "/layers/" + hexOf(digest);
}

std::string ImageStore::blobPath(const std::string& digest) const {
  return options_.dir + "/blobs/sha256/" + hexOf(digest);
}

std::string ImageStore::recordPath(const std::string& canonical) const {
  return options_.dir + "/images/" + hexOf(sha256Digest(canonical)) + ".json";
}

std::string ImageStore::newStaging() {
  return options_.dir + "/staging/" + std::to_string(::getpid()) + "-" +
         std::to_string(stagingSeq_.fetch_add(1));
}

void ImageStore::get(const Image& image, Done done) {
  auto ref = parseImageReference(image.name, options_.defaultRegistry);
  if (!ref.ok()) {
    done(ref.status());
    return;
  }
  std::string key = ref->canonical();
  if (image.cached) {
    auto stored = readRecord(key);
    if (stored.ok()) {
      done(std::move(stored));
      return;
    }
  }
  auto& waiters = waiting_[key];
  waiters.push_back(std::move(done));
  if (waiters.size() > 1) return;  // a pull of it is on its way
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Job{key, image.name, image.cached});
  }
  cv_.notify_one();
}

void ImageStore::work() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    auto result = pull(job.name, job.cached);
    loop_.post("image_store.pulled",
               [this, alive = alive_, key = job.key, result = std::move(result)]() mutable {
                 if (!*alive) return;
                 auto waiters = std::move(waiting_[key]);
                 waiting_.erase(key);
                 for (auto& w : waiters) w(result);
               });
  }
}

Result<StoredImage> ImageStore::pull(const std::string& name, bool cached) {
  auto ref = parseImageReference(name, options_.defaultRegistry);
  if (!ref.ok()) return ref.status();
  std::shared_lock<std::shared_mutex> use(*gcLock_);
  if (cached) {
    auto stored = readRecord(ref->canonical());
    if (stored.ok()) return stored;
  }
  pulls_.fetch_add(1);
  std::string staging = newStaging();
  Status made = makeDirectories(staging);
  if (!made.ok()) return made;
  Result<StoredImage> result = Status::Internal("");
  try {
    result = ref->registry.rfind('/', 0) == 0 ? loadLocal(*ref, staging)
                                              : pullFromRegistry(*ref, staging);
  } catch (const std::exception& e) {  // a JSON value of an unexpected type
    result = Status::InvalidArgument(std::string("malformed image metadata: ") + e.what());
  }
  (void)removeTree(staging);
  if (!result.ok()) {
    LOG(WARNING) << "Cannot provide image " << name << ": " << result.status().message();
    return result.status().prefixed("Cannot pull image '" + name + "': ");
  }
  Status w = writeRecord(*result);
  if (!w.ok()) return w;
  return result;
}

Result<StoredImage> ImageStore::pullFromRegistry(const ImageReference& ref,
                                                 const std::string& staging) {
  RegistryClient client(ref, options_.registry);
  auto fetched = client.manifest(ref.reference());
  if (!fetched.ok()) return fetched.status();
  auto doc = parseManifest(fetched->body, fetched->mediaType);
  if (!doc.ok()) return doc.status();
  std::string manifestDigest = fetched->digest;
  if (doc->index) {
    auto chosen = selectPlatform(*doc, "linux", hostArchitecture(), "");
    if (!chosen.ok()) return chosen.status();
    fetched = client.manifest(chosen->digest);
    if (!fetched.ok()) return fetched.status();
    doc = parseManifest(fetched->body, fetched->mediaType);
    if (!doc.ok()) return doc.status();
    if (doc->index) return Status::InvalidArgument("an index points at another index");
    manifestDigest = chosen->digest;
  }
  // The config: small, verified, kept in the record.
  if (doc->config.size < 0 || doc->config.size > kMaxConfigBytes) {
    return Status::InvalidArgument("the image config's size (" +
                                   std::to_string(doc->config.size) +
                                   ") is missing or over the limit of " +
                                   std::to_string(kMaxConfigBytes) + " bytes");
  }
  std::string configFile = staging + "/config";
  Status c = client.blob(doc->config.digest, doc->config.size, configFile);
  if (!c.ok()) return c;
  auto configText = readFile(configFile);
  if (!configText.ok()) return configText.status();
  auto config = parseImageConfig(*configText);
  if (!config.ok()) return config.status();

  StoredImage image;
  image.name = ref.canonical();
  image.manifestDigest = manifestDigest;
  image.config = *config;
  for (const auto& layer : doc->layers) {
    if (layer.mediaType.find("foreign") != std::string::npos ||
        layer.mediaType.find("nondistributable") != std::string::npos) {
      return Status::InvalidArgument("layer " + layer.digest +
                                     " is a foreign layer, which cannot be pulled");
    }
    if (layer.size < 0) {
      return Status::InvalidArgument("layer " + layer.digest + " has no size in the manifest");
    }
    if (!exists(blobPath(layer.digest))) {
      std::string file = staging + "/" + hexOf(layer.digest);
      Status b = client.blob(layer.digest, layer.size, file);
      if (!b.ok()) return b;
      Status s = storeBlob(layer.digest, file);
      if (!s.ok()) return s;
    }
    Status u = unpackLayer(layer.digest, staging);
    if (!u.ok()) return u;
    image.layers.push_back(layer.digest);
  }
  return image;
}

Status ImageStore::storeBlob(const std::string& digest, const std::string& file) {
  return renameInto(file, blobPath(digest));
}

Status ImageStore::unpackLayer(const std::string& digest, const std::string& staging) {
  std::string dir = layerDir(digest);
  if (isDirectory(dir)) return Status::OK();
  std::string tmp = staging + "/layer-" + hexOf(digest);
  Status s = extractLayer(blobPath(digest), tmp, WhiteoutMode::kOverlay);
  if (!s.ok()) {
    (void)removeTree(tmp);
    // A blob that does not unpack (its content is at fault, and a digest
    // names one content) is not worth keeping; one that met a full disk is.
    if (s.code() == Status::Code::kInvalidArgument) ::unlink(blobPath(digest).c_str());
    return s;
  }
  return renameInto(tmp, dir);
}

namespace {
// Bytes on disk under `path` (a file or a tree); errors count as nothing.
uint64_t diskUsage(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    auto n = std::filesystem::file_size(path, ec);
    return ec ? 0 : n;
  }
  uint64_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(
           path, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
  }
  return total;
}
}  // namespace

Result<ImageStore::PruneStats> ImageStore::prune(const InUse& inUse) {
  std::unique_lock<std::shared_mutex> exclusive(*gcLock_);
  std::optional<std::set<std::string>> used = inUse();
  if (!used) {
    return Status::FailedPrecondition(
        "the layers of some container are not known; no image was removed");
  }
  PruneStats stats;
  std::set<std::string> keep = *used;  // layer digests, then also of kept images
  auto records = listDirectory(options_.dir + "/images");
  if (!records.ok()) return records.status();
  for (const auto& file : *records) {
    const std::string path = options_.dir + "/images/" + file;
    auto text = readFile(path);
    json j = text.ok() ? tutti::json::parse(*text) : json();
    std::vector<std::string> layers;
    if (j.is_object() && j.contains("layers") && j["layers"].is_array()) {
      for (const auto& l : j["layers"]) {
        if (l.is_string()) layers.push_back(l.get<std::string>());
      }
    }
    bool inUse = !layers.empty() && std::all_of(layers.begin(), layers.end(), [&](const auto& l) {
      return used->count(l) > 0;
    });
    if (inUse) {
      keep.insert(layers.begin(), layers.end());
      continue;
    }
    stats.bytes += diskUsage(path);
    Status s = removeTree(path);
    if (!s.ok()) return s;
    ++stats.images;
  }
  std::set<std::string> keepHex;
  for (const auto& digest : keep) keepHex.insert(hexOf(digest));
  auto layers = listDirectory(options_.dir + "/layers");
  if (!layers.ok()) return layers.status();
  for (const auto& hex : *layers) {
    if (keepHex.count(hex)) continue;
    const std::string dir = options_.dir + "/layers/" + hex;
    stats.bytes += diskUsage(dir);
    Status s = removeTree(dir);
    if (!s.ok()) return s;
    ++stats.layers;
  }
  auto blobs = listDirectory(options_.dir + "/blobs/sha256");
  if (!blobs.ok()) return blobs.status();
  for (const auto& hex : *blobs) {
    if (keepHex.count(hex)) continue;
    const std::string blob = options_.dir + "/blobs/sha256/" + hex;
    stats.bytes += diskUsage(blob);
    Status s = removeTree(blob);
    if (!s.ok()) return s;
  }
  LOG(INFO) << "Image GC removed " << stats.images << " images and " << stats.layers
            << " layers (" << stats.bytes / (1024 * 1024) << " MiB)";
  return stats;
}

Status ImageStore::writeRecord(const StoredImage& image) {
  json j{{"name", image.name},
         {"manifestDigest", image.manifestDigest},
         {"layers", image.layers},
         {"config", configJson(image.config)}};
  return writeFileAtomically(recordPath(image.name),
                             j.dump(-1, ' ', false, json::error_handler_t::replace), true);
}

Result<StoredImage> ImageStore::readRecord(const std::string& canonical) const {
  auto text = readFile(recordPath(canonical));
  if (!text.ok()) return text.status();
  json j = tutti::json::parse(*text);
  if (j.is_discarded() || !j.is_object()) return Status::NotFound("corrupt image record");
  try {
    return recordOf(j, canonical);
  } catch (const std::exception& e) {
    return Status::NotFound(std::string("corrupt image record: ") + e.what());
  }
}

Result<StoredImage> ImageStore::recordOf(const nlohmann::json& j,
                                         const std::string& canonical) const {
  StoredImage image;
  image.name = j.value("name", std::string());
  image.manifestDigest = j.value("manifestDigest", std::string());
  image.layers = j.value("layers", std::vector<std::string>{});
  if (j.contains("config") && j["config"].is_object()) image.config = configOf(j["config"]);
  if (image.name != canonical) return Status::NotFound("image record of another name");
  // The layers must still be there (a store cleaned by hand).
  for (const auto& l : image.layers) {
    if (!validDigest(l) || !isDirectory(layerDir(l))) {
      return Status::NotFound("layer " + l + " is missing");
    }
  }
  return image;
}

// ---- local images (Mesos's local puller) ----

Result<StoredImage> ImageStore::loadLocal(const ImageReference& ref, const std::string& staging) {
  const std::string& dir = ref.registry;
  if (!ref.digest.empty()) {
    return Status::InvalidArgument("local images are named by tag, not digest");
  }
  std::string layout = dir + "/" + ref.repository;
  if (isDirectory(layout) && exists(layout + "/index.json"))
    return loadLayout(ref, layout, staging);
  for (const std::string& archive :
       {dir + "/" + ref.repository + ":" + ref.tag + ".tar", dir + "/" + ref.repository + ".tar"}) {
    if (!exists(archive)) continue;
    std::string unpacked = staging + "/archive";
    Status s = extractLayer(archive, unpacked, WhiteoutMode::kApply);
    if (!s.ok()) return s;
    if (exists(unpacked + "/index.json") && !exists(unpacked + "/manifest.json")) {
      return loadLayout(ref, unpacked, staging);
    }
    return loadDockerArchive(ref, unpacked, staging);
  }
  return Status::NotFound("no image " + ref.repository + ":" + ref.tag + " in " + dir +
                          " (looked for " + ref.repository + ":" + ref.tag + ".tar, " +
                          ref.repository + ".tar and the OCI layout " + ref.repository + "/)");
}

Result<StoredImage> ImageStore::loadLayout(const ImageReference& ref, const std::string& layoutDir,
                                           const std::string& staging) {
  auto blob = [&](const std::string& digest) -> Result<std::string> {
    std::string path = layoutDir + "/blobs/sha256/" + hexOf(digest);
    auto got = sha256FileDigest(path);
    if (!got.ok()) return got.status();
    if (*got != digest) {
      return Status::InvalidArgument("digest mismatch: " + path + " has digest " + *got);
    }
    return path;
  };
  auto indexText = readFile(layoutDir + "/index.json");
  if (!indexText.ok()) return indexText.status();
  auto index = parseManifest(*indexText, media::kOciIndex);
  if (!index.ok()) return index.status();
  if (!index->index) return Status::InvalidArgument("index.json is not an index");
  const Descriptor* chosen = nullptr;
  for (const auto& d : index->manifests) {
    if (refMatches(d.refName, ref) || (index->manifests.size() == 1 && d.refName.empty())) {
      chosen = &d;
    }
  }
  if (!chosen) return Status::NotFound("the OCI layout has no tag " + ref.tag);
  Descriptor manifestDesc = *chosen;
  Result<ManifestDocument> doc = Status::NotFound("");
  for (int depth = 0; depth < 3; ++depth) {
    auto path = blob(manifestDesc.digest);
    if (!path.ok()) return path.status();
    auto text = readFile(*path);
    if (!text.ok()) return text.status();
    doc = parseManifest(*text, manifestDesc.mediaType);
    if (!doc.ok()) return doc.status();
    if (!doc->index) break;
    auto p = selectPlatform(*doc, "linux", hostArchitecture(), "");
    if (!p.ok()) return p.status();
    manifestDesc = *p;
  }
  if (doc->index) return Status::InvalidArgument("indexes nest too deeply");
  auto configPath = blob(doc->config.digest);
  if (!configPath.ok()) return configPath.status();
  auto configText = readFile(*configPath);
  if (!configText.ok()) return configText.status();
  auto config = parseImageConfig(*configText);
  if (!config.ok()) return config.status();
  StoredImage image;
  image.name = ref.canonical();
  image.manifestDigest = manifestDesc.digest;
  image.config = *config;
  for (const auto& layer : doc->layers) {
    if (!exists(blobPath(layer.digest))) {
      auto path = blob(layer.digest);
      if (!path.ok()) return path.status();
      auto data = readFile(*path);
      if (!data.ok()) return data.status();
      std::string tmp = staging + "/" + hexOf(layer.digest);
      Status w = writeFileAtomically(tmp, *data, true);
      if (!w.ok()) return w;
      Status s = storeBlob(layer.digest, tmp);
      if (!s.ok()) return s;
    }
    Status u = unpackLayer(layer.digest, staging);
    if (!u.ok()) return u;
    image.layers.push_back(layer.digest);
  }
  return image;
}

Result<StoredImage> ImageStore::loadDockerArchive(const ImageReference& ref, const std::string& dir,
                                                  const std::string& staging) {
  auto text = readFile(dir + "/manifest.json");
  if (!text.ok()) {
    return Status::InvalidArgument("not a docker save archive (no manifest.json)");
  }
  json j = tutti::json::parse(*text);
  if (j.is_discarded() || !j.is_array() || j.empty()) {
    return Status::InvalidArgument("manifest.json of the archive is not a list of images");
  }
  const std::string want = ref.repository + ":" + ref.tag;
  auto matches = [&](const std::string& t) {
    return t == want || (t.size() > want.size() && t[t.size() - want.size() - 1] == '/' &&
                         t.compare(t.size() - want.size(), want.size(), want) == 0);
  };
  const json* entry = &j[0];
  for (const auto& e : j) {
    if (!e.is_object()) return Status::InvalidArgument("manifest.json has a malformed entry");
    for (const auto& t : e.value("RepoTags", std::vector<std::string>{})) {
      if (matches(t)) entry = &e;
    }
  }
  if (!entry->is_object()) return Status::InvalidArgument("manifest.json has a malformed entry");
  std::string configName = entry->value("Config", std::string());
  auto configPath = insideArchive(dir, configName);
  auto configText = configPath.ok() ? readFile(*configPath) : configPath.status();
  if (!configText.ok()) {
    return Status::InvalidArgument("the archive's image has no readable config");
  }
  auto config = parseImageConfig(*configText);
  if (!config.ok()) return config.status();
  StoredImage image;
  image.name = ref.canonical();
  image.manifestDigest =
      sha256Digest(entry->dump(-1, ' ', false, json::error_handler_t::replace));
  image.config = *config;
  for (const auto& layerName : entry->value("Layers", std::vector<std::string>{})) {
    // `docker save` links a layer that several images share.
    auto path = insideArchive(dir, layerName);
    if (!path.ok()) return path.status();
    auto digest = sha256FileDigest(*path);
    if (!digest.ok()) return digest.status();
    if (!exists(blobPath(*digest))) {
      // A copy: the same file may be named again by a later entry.
      auto data = readFile(*path);
      if (!data.ok()) return data.status();
      std::string tmp = staging + "/" + hexOf(*digest);
      Status w = writeFileAtomically(tmp, *data, false);
      if (!w.ok()) return w;
      Status s = storeBlob(*digest, tmp);
      if (!s.ok()) return s;
    }
    Status u = unpackLayer(*digest, staging);
    if (!u.ok()) return u;
    image.layers.push_back(*digest);
  }
  return image;
}

}  // namespace tutti::agent::images
