// The image store (DESIGN §8): Docker images pulled from a Registry v2 or
// loaded from a local directory, kept once by digest under `dir`:
//
//   blobs/sha256/<hex>          verified layer blobs, as the registry sent them
//   layers/<hex>/               each layer unpacked for overlayfs (whiteouts
//                               as 0/0 devices, opaque directories marked)
//   images/<name>.json          one per image name: manifest digest, layer
//                               digests (bottom first) and the config the
//                               container needs; written last, atomically
//   staging/                    downloads and unpacks in progress
//
// Nothing partial is ever visible: blobs and layers are renamed into place
// once complete and verified, the image record after every layer. A failed
// pull leaves only what is complete (shared layers) and cleans its staging.
//
// `--docker_registry` is a URL or host[:port] (the default registry for
// names without one) or a local directory holding, per image, a
// `docker save` archive `<repository>:<tag>.tar` (or `<repository>.tar`) or
// an OCI image layout `<repository>/` (or its tar), as Mesos's local puller.
//
// Threads: get() on the owner's loop thread; pulls run on the store's
// worker threads and their results are posted back to the loop. Concurrent
// gets of one image share one pull.
//
// Garbage collection: prune() removes every image that no container uses
// and every layer and blob no remaining image uses. It holds the store's
// lock exclusively, so it waits for pulls in progress and holds new ones
// back; whoever builds a root filesystem from layers holds the same lock
// shared (useLock()), so no layer disappears under a container being set up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/containerizer/images/manifest.hpp"
#include "agent/containerizer/images/registry_client.hpp"
#include "common/loop.hpp"
#include "tutti/types.hpp"

namespace tutti::agent::images {

struct ImageStoreOptions {
  std::string dir;              // --image_store_dir
  std::string defaultRegistry;  // --docker_registry
  RegistryOptions registry;     // --docker_registry_ca, --docker_insecure_registries
  int workers = 2;              // concurrent pulls of different images
};

struct StoredImage {
  std::string name;  // canonical reference
  std::string manifestDigest;
  std::vector<std::string> layers;  // blob digests, bottom first
  ImageConfig config;
};

class ImageStore {
 public:
  using Done = std::function<void(Result<StoredImage>)>;

  ImageStore(Loop& loop, ImageStoreOptions options);
  ~ImageStore();  // joins the workers; pulls in progress are abandoned (cleaned next start)
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  // Creates the directories and removes leftover staging. Call once.
  Status initialize();
  // Registry credentials (host -> user:password); before the first get().
  void setCredentials(std::map<std::string, std::string> credentials) {
    options_.registry.credentials = std::move(credentials);
  }

  // The stored image when `cached` and present, else a pull. `done` runs on
  // the loop. Errors: InvalidArgument (bad name, bad manifest, digest
  // mismatch), NotFound, Unavailable (registry unreachable), IoError.
  void get(const Image& image, Done done);

  const std::string& dir() const { return options_.dir; }
  // Where a layer's unpacked files are, and its blob.
  std::string layerDir(const std::string& digest) const;
  std::string blobPath(const std::string& digest) const;

  // Blocking, any thread: the same as get() without the loop (tests, tools).
  Result<StoredImage> pull(const std::string& name, bool cached);

  // Pulls started (not served from the store) since construction.
  uint64_t pulls() const { return pulls_; }

  struct PruneStats {
    int images = 0;      // image records removed
    int layers = 0;      // unpacked layers (and their blobs) removed
    uint64_t bytes = 0;  // their size on disk
  };
  // Layer digests the containers use, read while prune() holds the lock;
  // nullopt when that cannot be known (prune then removes nothing).
  using InUse = std::function<std::optional<std::set<std::string>>()>;
  // Blocking, any thread but the loop's. An image is kept when every layer
  // of it is in use. Errors: FailedPrecondition when InUse gave nullopt,
  // IoError when a removal failed (what was removed before stays removed).
  Result<PruneStats> prune(const InUse& inUse);
  // Held shared while layers are in use for building a root filesystem.
  std::shared_ptr<std::shared_mutex> useLock() const { return gcLock_; }

 private:
  struct Job {
    std::string key;
    std::string name;
    bool cached;
  };
  void work();
  Result<StoredImage> pullFromRegistry(const ImageReference& ref, const std::string& staging);
  Result<StoredImage> loadLocal(const ImageReference& ref, const std::string& staging);
  Result<StoredImage> loadLayout(const ImageReference& ref, const std::string& layoutDir,
                                 const std::string& staging);
  Result<StoredImage> loadDockerArchive(const ImageReference& ref, const std::string& dir,
                                        const std::string& staging);
  // Moves a verified blob file into the store (or drops it when there).
  Status storeBlob(const std::string& digest, const std::string& file);
  Status unpackLayer(const std::string& digest, const std::string& staging);
  Status writeRecord(const StoredImage& image);
  Result<StoredImage> readRecord(const std::string& canonical) const;
  Result<StoredImage> recordOf(const nlohmann::json& record, const std::string& canonical) const;
  std::string recordPath(const std::string& canonical) const;
  std::string newStaging();

  Loop& loop_;
  ImageStoreOptions options_;
  std::map<std::string, std::vector<Done>> waiting_;  // loop thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> pulls_{0};
  std::atomic<uint64_t> stagingSeq_{0};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Shared by pulls and rootfs builds, exclusive for prune().
  std::shared_ptr<std::shared_mutex> gcLock_ = std::make_shared<std::shared_mutex>();
};

}  // namespace tutti::agent::images
