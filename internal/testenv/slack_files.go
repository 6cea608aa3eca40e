package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// Upload is a file shared through Slack's external upload flow:
// files.getUploadURLExternal, the upload to the URL it gave, then
// files.completeUploadExternal.
type Upload struct {
	ID, Name, Title, Channel, Comment, ThreadTS string
	Data                                        []byte
}

// files is the fake's state of uploads and of the incoming webhook.
type files struct {
	pending  map[string]*Upload // by file id, until completed
	done     []Upload
	webhooks []map[string]any
}

// serveFiles registers the upload flow and an incoming webhook on mux.
func (s *Slack) serveFiles(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/files.getUploadURLExternal", s.getUploadURLExternal)
	mux.HandleFunc("POST /upload/{id}", s.uploadFile)
	mux.HandleFunc("POST /api/files.completeUploadExternal", s.completeUploadExternal)
	mux.HandleFunc("POST /webhook", func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		a := s.answerOf(MethodWebhook)
		if !a.takes() {
			s.mu.Unlock()
			a.refuse(w, false)
			return
		}
		s.files.webhooks = append(s.files.webhooks, m)
		s.mu.Unlock()
		if s.wait(a, r) {
			w.Write([]byte("ok"))
		}
	})
}

// WebhookURL is an incoming webhook whose posts WebhookPosts returns.
func (s *Slack) WebhookURL() string { return s.URL + "/webhook" }

// WebhookPosts returns the JSON of every incoming webhook post so far.
func (s *Slack) WebhookPosts() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.files.webhooks)
}

// Uploads returns every file whose upload was completed, in order.
func (s *Slack) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.files.done)
}

func (s *Slack) getUploadURLExternal(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	name, length := r.PostForm.Get("filename"), r.PostForm.Get("length")
	if name == "" || length == "" || length == "0" {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	if s.files.pending == nil {
		s.files.pending = map[string]*Upload{}
	}
	id := fmt.Sprintf("F%08d", len(s.files.pending)+1)
	s.files.pending[id] = &Upload{ID: id, Name: name}
	writeJSON(w, map[string]any{"ok": true, "upload_url": s.URL + "/upload/" + id, "file_id": id})
}

// uploadFile takes the file as Slack's upload URL does: the bytes in the
// multipart field "file".
func (s *Slack) uploadFile(w http.ResponseWriter, r *http.Request) {
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, "no file", http.StatusBadRequest)
		return
	}
	data, err := io.ReadAll(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.files.pending[r.PathValue("id")]
	if u == nil {
		http.Error(w, "unknown upload", http.StatusNotFound)
		return
	}
	u.Data = data
	w.Write([]byte("OK - " + fmt.Sprint(len(data))))
}

func (s *Slack) completeUploadExternal(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(r.PostForm.Get("files")), &list); err != nil || len(list) == 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	var out []map[string]any
	for _, f := range list {
		u := s.files.pending[f.ID]
		if u == nil || u.Data == nil {
			writeJSON(w, map[string]any{"ok": false, "error": "file_not_found"})
			return
		}
		u.Title, u.Channel = f.Title, r.PostForm.Get("channel_id")
		u.Comment, u.ThreadTS = r.PostForm.Get("initial_comment"), r.PostForm.Get("thread_ts")
		s.files.done = append(s.files.done, *u)
		delete(s.files.pending, f.ID)
		out = append(out, map[string]any{"id": u.ID, "title": u.Title})
	}
	writeJSON(w, map[string]any{"ok": true, "files": out})
}
