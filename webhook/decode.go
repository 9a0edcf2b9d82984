package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Gitea event names (the X-Gitea-Event header) ensign understands.
const (
	EventIssueComment = "issue_comment"
	EventPullRequest  = "pull_request"
	EventPush         = "push"
)

// ErrMalformed marks a payload that is not what Gitea sends for its event.
var ErrMalformed = errors.New("malformed payload")

// CommentEvent is a comment newly created on a pull request.
type CommentEvent struct {
	// Delivery is Gitea's X-Gitea-Delivery id.
	Delivery string
	Owner    string
	Repo     string
	// Number is the pull request number.
	Number    int64
	CommentID int64
	// Author is the login of the comment's author.
	Author string
	Body   string
}

// PullRequestEvent is a change to a pull request: opened, closed (Merged
// tells whether by merging), reopened, synchronized, edited, label_updated...
type PullRequestEvent struct {
	Delivery       string
	Action         string
	Owner          string
	Repo           string
	Number         int64
	Merged         bool
	MergeCommitSHA string
	HeadBranch     string
	HeadSHA        string
	BaseBranch     string
	// Sender is the login of who caused the event.
	Sender string
}

// PushEvent is a push to a branch or tag.
type PushEvent struct {
	Delivery string
	Owner    string
	Repo     string
	// Ref is the full ref, e.g. refs/heads/main.
	Ref    string
	Before string
	After  string
	Pusher string
}

type user struct {
	Login string `json:"login"`
}

type repository struct {
	Name  string `json:"name"`
	Owner user   `json:"owner"`
}

func (r repository) check() error {
	if r.Owner.Login == "" || r.Name == "" {
		return fmt.Errorf("%w: repository owner or name missing", ErrMalformed)
	}
	return nil
}

type commentPayload struct {
	Action string `json:"action"`
	IsPull bool   `json:"is_pull"`
	Issue  struct {
		Number      int64     `json:"number"`
		PullRequest *struct{} `json:"pull_request"`
	} `json:"issue"`
	Comment struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User user   `json:"user"`
	} `json:"comment"`
	Repository repository `json:"repository"`
	Sender     user       `json:"sender"`
}

// DecodeComment decodes an issue_comment payload. relevant is false, with
// no error, for anything but a newly created comment on a pull request.
func DecodeComment(delivery string, body []byte) (ev CommentEvent, relevant bool, err error) {
	var p commentPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return CommentEvent{}, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if p.Action == "" {
		return CommentEvent{}, false, fmt.Errorf("%w: action missing", ErrMalformed)
	}
	if p.Action != "created" || !(p.IsPull || p.Issue.PullRequest != nil) {
		return CommentEvent{}, false, nil
	}
	if err := p.Repository.check(); err != nil {
		return CommentEvent{}, false, err
	}
	author := p.Comment.User.Login
	if author == "" {
		author = p.Sender.Login
	}
	if p.Issue.Number <= 0 || p.Comment.ID <= 0 || author == "" {
		return CommentEvent{}, false, fmt.Errorf("%w: issue number, comment id or author missing", ErrMalformed)
	}
	return CommentEvent{
		Delivery:  delivery,
		Owner:     p.Repository.Owner.Login,
		Repo:      p.Repository.Name,
		Number:    p.Issue.Number,
		CommentID: p.Comment.ID,
		Author:    author,
		Body:      p.Comment.Body,
	}, true, nil
}

type pushPayload struct {
	Ref        string     `json:"ref"`
	Before     string     `json:"before"`
	After      string     `json:"after"`
	Repository repository `json:"repository"`
	Pusher     user       `json:"pusher"`
}

// DecodePush decodes a push payload.
func DecodePush(delivery string, body []byte) (PushEvent, error) {
	var p pushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return PushEvent{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := p.Repository.check(); err != nil {
		return PushEvent{}, err
	}
	if p.Ref == "" || p.After == "" {
		return PushEvent{}, fmt.Errorf("%w: ref or after missing", ErrMalformed)
	}
	return PushEvent{
		Delivery: delivery,
		Owner:    p.Repository.Owner.Login,
		Repo:     p.Repository.Name,
		Ref:      p.Ref,
		Before:   p.Before,
		After:    p.After,
		Pusher:   p.Pusher.Login,
	}, nil
}

type pullRequestPayload struct {
	Action      string `json:"action"`
	Number      int64  `json:"number"`
	PullRequest struct {
		Number         int64   `json:"number"`
		Merged         bool    `json:"merged"`
		MergeCommitSHA *string `json:"merge_commit_sha"`
		Head           struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository repository `json:"repository"`
	Sender     user       `json:"sender"`
}

// DecodePullRequest decodes a pull_request payload.
func DecodePullRequest(delivery string, body []byte) (PullRequestEvent, error) {
	var p pullRequestPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return PullRequestEvent{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := p.Repository.check(); err != nil {
		return PullRequestEvent{}, err
	}
	number := p.PullRequest.Number
	if number == 0 {
		number = p.Number
	}
	if p.Action == "" || number <= 0 {
		return PullRequestEvent{}, fmt.Errorf("%w: action or pull request number missing", ErrMalformed)
	}
	ev := PullRequestEvent{
		Delivery:   delivery,
		Action:     p.Action,
		Owner:      p.Repository.Owner.Login,
		Repo:       p.Repository.Name,
		Number:     number,
		Merged:     p.PullRequest.Merged,
		HeadBranch: p.PullRequest.Head.Ref,
		HeadSHA:    p.PullRequest.Head.SHA,
		BaseBranch: p.PullRequest.Base.Ref,
		Sender:     p.Sender.Login,
	}
	if p.PullRequest.MergeCommitSHA != nil {
		ev.MergeCommitSHA = *p.PullRequest.MergeCommitSHA
	}
	return ev, nil
}
